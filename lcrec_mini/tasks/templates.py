"""Instruction templates for LC-Rec's six tuning tasks (our own wording).

Each task has several templates; one is drawn at random per sample (and again per
epoch during tuning), so the model learns the task rather than one phrasing. Fields:
``{history}`` a comma-separated list of item indices (or titles), ``{index}`` one
item index, ``{title}``/``{description}`` item text, ``{query}`` a user's request.
"""

from __future__ import annotations

SEQREC = [
    "Here are the items a user interacted with, oldest first: {history}. Which item will the user interact with next?",
    "A user's interactions, in order: {history}. Predict the next item they will choose.",
    "Given this interaction history: {history}, recommend the one item the user is most likely to pick next.",
    "The user engaged with these items one after another: {history}. What comes next?",
    "Based on the sequence {history}, name the next item for this user.",
]

ITEM2INDEX = {
    "title": [
        'Which item has the title "{title}"?',
        'Give the index of the item called "{title}".',
        'What is the identifier of "{title}"?',
    ],
    "description": [
        "Which item matches this description: {description}",
        "Find the item described as follows: {description}",
    ],
    "both": [
        'An item is titled "{title}" and described as: {description} What is its index?',
        'Title: "{title}". Description: {description} Give the index of this item.',
    ],
}

INDEX2ITEM = {
    "title": [
        "What is the title of item {index}?",
        "Name the item {index}.",
        "Tell me the title of {index}.",
    ],
    "description": [
        "Describe item {index}.",
        "What is item {index} about?",
    ],
    "both": [
        "Give the title and a description of item {index}.",
        "What are the title and the description of {index}?",
    ],
}

FUSIONSEQREC = {
    # history of indices -> the next item's text
    "index2title": [
        "A user interacted with {history}, in this order. What is the title of the item they will choose next?",
        "After {history}, which item will this user pick? Answer with its title.",
    ],
    "index2description": [
        "A user interacted with {history}, in this order. Describe the item they will choose next.",
        "Given the history {history}, what will the next item be like?",
    ],
    # history of titles -> the next item's index
    "title2index": [
        "A user interacted with these items, in order: {history}. Which item will they choose next? Answer with its index.",
        "History of titles: {history}. Give the index of the next item for this user.",
    ],
}

ITEMSEARCH = {
    "query": [
        "Find an item for this request: {query}",
        'A user says: "{query}" Which item fits best?',
        "Recommend one item to someone who wants the following: {query}",
    ],
    "query+history": [
        "A user who interacted with {history} is now looking for this: {query} Which item should we recommend?",
        'Given the history {history}, the user asks: "{query}" Which item fits?',
    ],
}

PREFERENCEOBTAIN = [
    "Here are the items a user interacted with: {history}. Describe the user's preferences.",
    "From the history {history}, what does this user like?",
    "Summarise the taste of a user whose history is {history}.",
]

#: task -> variant -> templates (tasks without variants use the variant "")
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "seqrec": {"": SEQREC},
    "item2index": ITEM2INDEX,
    "index2item": INDEX2ITEM,
    "fusionseqrec": FUSIONSEQREC,
    "itemsearch": ITEMSEARCH,
    "preferenceobtain": {"": PREFERENCEOBTAIN},
}

TASKS = tuple(TEMPLATES)

#: the short system message put before every prompt of a chat model
SYSTEM = "You are a recommender system. Items are named by index tokens such as <a_1><b_2><c_3>."
