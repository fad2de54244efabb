"""A fixed vocabulary for generated prose.

Every word is exactly one cl100k token when preceded by a space, and every
sentence starter is one token with or without the space, so a generated text
has exactly as many tokens as pieces. ``tests/provider/test_content.py``
checks this.
"""

from __future__ import annotations


STARTERS: tuple[str, ...] = (
    "The", "We", "It", "This", "In", "A", "For", "Our", "Each", "Every",
    "Most", "Some", "When", "Then", "These", "That", "Many", "Here", "There", "Now",
)  # fmt: skip

WORDS: tuple[str, ...] = (
    "the", "of", "and", "to", "in", "is", "that", "it", "for", "on", "with", "as",
    "at", "by", "be", "this", "have", "from", "or", "one", "not", "but", "what",
    "all", "when", "we", "there", "can", "an", "your", "which", "their", "if",
    "will", "each", "about", "how", "up", "out", "them", "then", "many", "some",
    "so", "these", "would", "other", "into", "has", "more", "two", "like", "see",
    "time", "could", "no", "make", "than", "first", "been", "its", "who", "now",
    "people", "made", "over", "only", "way", "find", "use", "may", "long",
    "little", "very", "after", "words", "just", "where", "most", "know", "get",
    "through", "back", "much", "good", "new", "write", "our", "any", "day",
    "same", "right", "look", "think", "also", "around", "another", "work",
    "three", "word", "must", "because", "does", "part", "even", "place", "well",
    "such", "here", "take", "why", "things", "help", "put", "years", "different",
    "away", "again", "off", "old", "number", "great", "tell", "say", "small",
    "every", "found", "still", "between", "name", "should", "home", "big",
    "give", "line", "set", "own", "under", "read", "last", "never", "left",
    "end", "along", "while", "might", "next", "below", "something", "both",
    "few", "those", "always", "show", "large", "often", "together", "world",
    "going", "want", "important", "until", "form", "keep", "side", "without",
    "once", "life", "enough", "sometimes", "four", "head", "above", "kind",
    "began", "almost", "live", "page", "need", "far", "hand", "high", "year",
    "light", "parts", "let", "night", "following", "being", "study", "second",
    "soon", "times", "story", "since", "days", "paper", "hard", "near",
    "better", "best", "across", "during", "today", "others", "however", "sure",
    "means", "try", "young", "ways", "thing", "whole", "example", "several",
    "change", "answer", "room", "against", "top", "learn", "point", "city",
    "play", "toward", "five", "using", "usually", "money", "given", "system",
    "data", "model", "service", "request", "response", "latency", "load", "test",
    "value", "result", "user", "network", "server", "memory", "cache", "queue",
    "token", "stream", "error", "retry", "budget", "tenant", "gateway",
    "cluster", "region", "signal", "metric", "window", "process", "simple",
    "clear", "quick", "steady", "careful", "useful", "direct", "modern",
    "common", "public", "open", "final", "total", "fast", "slow", "early",
    "late", "strong", "short", "plan", "team", "build", "design", "review",
    "report", "measure", "improve", "reduce", "increase", "support", "provide",
    "include", "follow", "create",
)  # fmt: skip
