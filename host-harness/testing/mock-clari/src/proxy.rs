//! A TCP proxy on loopback that delays what the client sends by a random 0..=`max` each time it
//! reads a chunk (in order: a later chunk never overtakes an earlier one), as a network with
//! jitter would between a client and a gateway that counts arrivals. Answers pass at once.
//! For the rate benchmarks and tests: a client's limiter must hold as the server counts.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Connections served at once; more wait for the listener (bounds the threads it starts).
const MAX_CONNECTIONS: usize = 64;

/// The proxy; it stops accepting when dropped (connections under way run to their end).
#[derive(Debug)]
pub struct DelayProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl DelayProxy {
    /// Forwards connections on a new loopback port to `target`, delaying each chunk the client
    /// sends by a pseudo-random 0..=`max` (from `seed`, so runs repeat).
    pub fn spawn(target: SocketAddr, max: Duration, seed: u64) -> std::io::Result<DelayProxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || accept_loop(listener, target, max, seed, flag));
        Ok(DelayProxy { addr, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the listener so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    max: Duration,
    seed: u64,
    stop: Arc<AtomicBool>,
) {
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (n, client) in listener.incoming().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        while open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(5));
        }
        let Ok(server) = TcpStream::connect(target) else {
            continue;
        };
        open.fetch_add(1, Ordering::SeqCst);
        let open = open.clone();
        let seed = seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        std::thread::spawn(move || {
            relay(client, server, max, seed);
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Client to server with delays (a reader and a writer thread), server to client at once.
fn relay(client: TcpStream, server: TcpStream, max: Duration, seed: u64) {
    let (Ok(mut from_client), Ok(mut to_client), Ok(mut from_server)) =
        (client.try_clone(), client.try_clone(), server.try_clone())
    else {
        return;
    };
    let mut to_server = server;
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let reader = std::thread::spawn(move || {
        let (mut rng, mut last) = (seed | 1, Instant::now());
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from_client.read(&mut buf) {
            if n == 0 {
                break;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let span = max.as_micros().max(1) as u64 + 1;
            let at = (Instant::now() + Duration::from_micros(rng % span)).max(last);
            last = at;
            if tx.send((at, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    let writer = std::thread::spawn(move || {
        for (at, chunk) in rx {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            if to_server.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut from_server, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = reader.join();
    let _ = writer.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_in_order_with_delay() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = echo.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while got.len() < 6 {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(&got).unwrap();
        });
        let proxy = DelayProxy::spawn(target, Duration::from_millis(30), 1).unwrap();
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        let started = Instant::now();
        for part in [b"ab", b"cd", b"ef"] {
            c.write_all(part).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut back = [0u8; 6];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"abcdef");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
