//! signbridge core (in progress)
