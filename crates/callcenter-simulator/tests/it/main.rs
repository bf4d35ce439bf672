//! The simulator through the real client, and the client through the simulator: every API
//! round-trips, every error code and fault lands in its class, pushes arrive signed, and
//! the password reaches no log line and no request body. One binary, on loopback ports
//! chosen by the OS.

mod errors;
mod push;
mod round_trip;
mod secrets;
mod support;
