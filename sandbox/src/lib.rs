//! Provider simulators (in progress)
