"""The paper's analyses: the study, intention-based prediction, token PCA, case studies."""
