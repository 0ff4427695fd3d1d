//! Real networks through tch (libtorch 2.11.0), behind the cargo feature `torch`: data readers,
//! models, tensor optimizers, instruments. STUB: being written (issue 5).
