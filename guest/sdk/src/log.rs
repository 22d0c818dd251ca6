//! Levelled log lines through the host's `log` import (stderr when built natively, for tests).

use crate::bindings::connector::platform::log::Level;

fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::connector::platform::log::write(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

pub fn trace(message: &str) {
    write(Level::Trace, message)
}
pub fn debug(message: &str) {
    write(Level::Debug, message)
}
pub fn info(message: &str) {
    write(Level::Info, message)
}
pub fn warn(message: &str) {
    write(Level::Warn, message)
}
pub fn error(message: &str) {
    write(Level::Error, message)
}
