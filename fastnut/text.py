"""Text to token-id sequences: ``SequenceTokenizer``.

The front of a text pipeline for fastnut's token-input estimators::

    make_pipeline(SequenceTokenizer(), RNNClassifier(vocab_size="auto"))

classifies raw strings.  The ids follow the estimators' rule (see
``fastnut._sequence_estimator``): 0 is padding, written after the end of
each shorter sequence.
"""
import re
from collections import Counter
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._doc_link import DocLinkMixin
from ._sequence_estimator import PADDING_ID

#: the id of tokens outside the vocabulary
OOV_ID = 1


class SequenceTokenizer(DocLinkMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                        BaseEstimator):
    """Turn raw strings into padded sequences of token ids.

    ``fit`` learns a vocabulary from the documents; ``transform`` maps each
    document to its token ids in order, truncated to ``max_len`` tokens and
    padded at the end with the padding id 0, as a ``(n_samples, max_len_)``
    int64 array: the token input of ``RNNClassifier``/``RNNRegressor``
    with ``vocab_size`` set.

    Parameters
    ----------
    analyzer : {"word", "char"}, default="word"
        ``"word"``: the tokens are the matches of ``token_pattern``;
        ``"char"``: every character (spaces included) is a token.
    lowercase : bool, default=True
        Lowercase the documents first.
    token_pattern : str, default=r"(?u)\\b\\w+\\b"
        Regular expression of a word token (``analyzer="word"``).  Unlike
        scikit-learn's ``CountVectorizer`` default, one-character words
        count: for sequences, "a" and "I" carry order.
    max_features : int or None, default=None
        Keep only the ``max_features`` most frequent tokens (by count over
        the training documents, ties broken alphabetically); the others are
        out of vocabulary.
    min_df : int or float, default=1
        Keep only tokens that occur in at least ``min_df`` documents (an
        int), or in at least that share of the documents (a float in
        (0, 1]).
    max_len : int or None, default=None
        Keep the first ``max_len`` tokens of each document.  None: the
        longest training document's length (longer documents at
        ``transform`` are truncated to it too).

    Attributes
    ----------
    vocabulary_ : dict
        Token -> id.  Ids start at 2, the most frequent token first: id 0
        is padding and id 1 is every out-of-vocabulary token.
    vocabulary_size_ : int
        ``len(vocabulary_) + 2``, the ``vocab_size`` an estimator needs for
        this tokenizer's output.  Every id below it occurs in the transformed
        training documents (the vocabulary is learned from the tokens that
        ``max_len`` keeps), so an estimator with ``vocab_size="auto"``
        after this tokenizer finds the same number.
    max_len_ : int
        Width of the output: ``max_len``, or the longest training document.

    Notes
    -----
    Every output sequence has at least one token: a document without any
    becomes one out-of-vocabulary token (id 1), since the estimators refuse
    sequences that are all padding.

    Examples
    --------
    >>> from fastnut import SequenceTokenizer
    >>> tok = SequenceTokenizer().fit(["the cat sat", "the dog"])
    >>> tok.transform(["the dog sat", "a cat"]).tolist()
    [[2, 4, 5], [1, 3, 0]]
    >>> sorted(tok.vocabulary_.items(), key=lambda kv: kv[1])
    [('the', 2), ('cat', 3), ('dog', 4), ('sat', 5)]
    """

    _parameter_constraints = {
        "analyzer": [StrOptions({"word", "char"})],
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_df": [Interval(Integral, 1, None, closed="left"),
                   Interval(Real, 0, 1, closed="right")],
        "max_len": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, analyzer="word", lowercase=True, token_pattern=r"(?u)\b\w+\b",
                 max_features=None, min_df=1, max_len=None):
        self.analyzer = analyzer
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.max_features = max_features
        self.min_df = min_df
        self.max_len = max_len

    # -- tokens ---------------------------------------------------------------
    def _documents(self, X):
        if isinstance(X, (str, bytes)):
            raise ValueError("SequenceTokenizer expects an iterable of documents (strings); "
                             "got a single string: wrap it in a list")
        if not isinstance(X, np.ndarray):
            if not hasattr(X, "__len__"):  # a generator of documents
                X = list(X)
            arr = np.asarray(X, dtype=object)
        else:
            arr = X
        if arr.ndim == 2 and arr.shape[1] == 1:  # one text column (ColumnTransformer)
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"SequenceTokenizer expects a 1-D iterable of documents (or one "
                             f"column of them); got an array of shape {arr.shape}")
        docs = []
        for i, doc in enumerate(arr):
            if isinstance(doc, bytes):
                doc = doc.decode("utf-8")
            if not isinstance(doc, str):
                raise ValueError(f"SequenceTokenizer expects strings; document {i} is "
                                 f"{doc!r} of type {type(doc).__name__}")
            docs.append(doc)
        if not docs:
            raise ValueError("SequenceTokenizer got no documents (0 samples)")
        return docs

    def _tokenize(self, doc, limit):
        if self.lowercase:
            doc = doc.lower()
        if self.analyzer == "char":
            tokens = list(doc)
        else:
            tokens = self._pattern.findall(doc)
        return tokens[:limit] if limit is not None else tokens

    @property
    def _pattern(self):
        pattern = re.compile(self.token_pattern)
        if pattern.groups > 1:
            raise ValueError(f"token_pattern may have at most one capturing group; "
                             f"{self.token_pattern!r} has {pattern.groups}")
        return pattern

    # -- fit / transform --------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary and the output width from documents ``X``.

        Parameters
        ----------
        X : iterable of str of shape (n_samples,)
            Raw documents (or an ``(n_samples, 1)`` column of them).
        y : None
            Ignored.

        Returns
        -------
        self : SequenceTokenizer
            The fitted tokenizer.
        """
        docs = self._documents(X)
        token_lists = [self._tokenize(d, self.max_len) for d in docs]
        counts, df = Counter(), Counter()
        for tokens in token_lists:
            counts.update(tokens)
            df.update(set(tokens))
        min_df = (self.min_df if isinstance(self.min_df, Integral)
                  else int(np.ceil(self.min_df * len(docs))))
        kept = [t for t in counts if df[t] >= min_df]
        kept.sort(key=lambda t: (-counts[t], t))
        if self.max_features is not None:
            kept = kept[:self.max_features]
        self.vocabulary_ = {t: i + 2 for i, t in enumerate(kept)}
        self.vocabulary_size_ = len(kept) + 2
        longest = max(max((len(t) for t in token_lists), default=0), 1)
        self.max_len_ = int(self.max_len) if self.max_len is not None else longest
        return self

    def transform(self, X):
        """Token ids of documents ``X``, shape ``(n_samples, max_len_)``, 0-padded at the end.

        Parameters
        ----------
        X : iterable of str of shape (n_samples,)
            Raw documents (or an ``(n_samples, 1)`` column of them).

        Returns
        -------
        ids : ndarray of shape (n_samples, max_len_), dtype int64
            Token ids, 0 (padding) after each document's last token; 1 marks
            a token outside the vocabulary.
        """
        check_is_fitted(self, "vocabulary_")
        docs = self._documents(X)
        vocab, L = self.vocabulary_, self.max_len_
        out = np.full((len(docs), L), PADDING_ID, dtype=np.int64)
        for i, doc in enumerate(docs):
            ids = [vocab.get(t, OOV_ID) for t in self._tokenize(doc, L)] or [OOV_ID]
            out[i, :len(ids)] = ids
        return out

    def inverse_transform(self, X):
        """The tokens of id sequences ``X`` (padding dropped, ``None`` for id 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, T)
            Token ids, as ``transform`` returns them.

        Returns
        -------
        tokens : list of list of str or None
            One list per row: its tokens in order, ``None`` where the id is
            the out-of-vocabulary id 1.
        """
        check_is_fitted(self, "vocabulary_")
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"inverse_transform expects ids of shape (n_samples, T); got "
                             f"shape {X.shape}")
        names = np.empty(self.vocabulary_size_, dtype=object)
        for t, i in self.vocabulary_.items():
            names[i] = t
        out = []
        for row in X:
            nz = np.flatnonzero(row != PADDING_ID)
            row = row[:nz[-1] + 1] if nz.size else row[:0]
            if ((row < 0) | (row >= self.vocabulary_size_)).any():
                raise ValueError(f"ids must be in [0, {self.vocabulary_size_}); got "
                                 f"{row[(row < 0) | (row >= self.vocabulary_size_)][0]}")
            out.append([names[int(i)] for i in row])
        return out

    @property
    def _n_features_out(self):
        return self.max_len_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
