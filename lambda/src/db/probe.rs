//! What speaks on a port, for a connection that fails oddly: a `mysql://`
//! URL at a PostgreSQL port waits forever for a greeting (PostgreSQL waits
//! for the client to speak first, then drops it after its
//! `authentication_timeout`, 60 s), and a `postgres://` URL at a MariaDB
//! port fails at once with "unexpected response from SSLRequest".
//!
//! Written by hand because sqlx has no such check and the two facts needed
//! are the first bytes of each protocol: a MariaDB/MySQL server sends its
//! handshake packet as soon as it accepts (3-byte length, sequence 0,
//! protocol version 10, then the NUL-terminated server version), and a
//! PostgreSQL server answers an `SSLRequest` with the single byte `S` or
//! `N`. Each probe is a fresh TCP connection that sends nothing but that
//! and is closed at once, within `limit`. A probe only runs when the real
//! connection is already odd (silent for a second, or a protocol error), so
//! a healthy server never sees one; a MariaDB server counts one as an
//! aborted connection, which the next successful login from the host clears.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The other protocol found on the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Postgres,
    /// With the version it greeted with (`10.11.19-MariaDB-0+deb12u1`).
    MariaDb(String),
}

/// How long a MariaDB/MySQL server may stay silent after accepting before
/// the port is checked for a PostgreSQL server (a MariaDB server greets at
/// once), and how long a probe may take.
pub const SILENT_BEFORE_PROBE: Duration = Duration::from_secs(1);

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Does a PostgreSQL server listen at `host:port`?
pub async fn postgres(host: &str, port: u16, limit: Duration) -> Option<Found> {
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(limit, async {
        let mut s = TcpStream::connect((host, port)).await.ok()?;
        s.write_all(&SSL_REQUEST).await.ok()?;
        s.read(&mut buf).await.ok()
    })
    .await
    .ok()??;
    // Exactly one byte: a MariaDB greeting that happens to start with the
    // length byte 0x4e/0x53 is a whole packet, not one byte.
    (n == 1 && matches!(buf[0], b'S' | b'N')).then_some(Found::Postgres)
}

/// Does a MariaDB/MySQL server greet at `host:port`?
pub async fn mariadb(host: &str, port: u16, limit: Duration) -> Option<Found> {
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(limit, async {
        let mut s = TcpStream::connect((host, port)).await.ok()?;
        s.read(&mut buf).await.ok()
    })
    .await
    .ok()??;
    greeting(&buf[..n])
}

/// The server version in a MariaDB/MySQL handshake packet (protocol 10), or
/// `""` for an error packet (`0xff`: too many connections, host blocked).
fn greeting(b: &[u8]) -> Option<Found> {
    if b.len() < 5 || b[3] != 0 {
        return None;
    }
    match b[4] {
        0x0a => {
            let rest = &b[5..];
            let end = rest.iter().position(|&c| c == 0)?;
            let v = String::from_utf8_lossy(&rest[..end]);
            // MariaDB prefixes `5.5.5-` for old MySQL clients.
            Some(Found::MariaDb(
                v.strip_prefix("5.5.5-").unwrap_or(&v).to_string(),
            ))
        }
        0xff => Some(Found::MariaDb(String::new())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mariadb_greeting_gives_its_version() {
        let mut p = vec![0x5b, 0, 0, 0, 0x0a];
        p.extend_from_slice(b"5.5.5-10.11.19-MariaDB\0rest");
        assert_eq!(
            greeting(&p),
            Some(Found::MariaDb("10.11.19-MariaDB".into()))
        );
        assert_eq!(greeting(b"N"), None);
        assert_eq!(greeting(&[1, 0, 0, 1, 0x0a, b'x']), None, "not sequence 0");
    }
}
