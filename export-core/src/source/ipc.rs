//! Source adapter: ipc.
