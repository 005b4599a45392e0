"""Most-popular and SASRec on the same split."""
