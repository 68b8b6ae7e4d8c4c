//! The volunteer directory. (Being written; see the dispatch issue.)
