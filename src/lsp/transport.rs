//! JSON-RPC over stdin/stdout with `Content-Length` framing. lsp-server's own stdio
//! transport stops reading at the first message that is not valid JSON-RPC; this one
//! answers such a message with an error, as JSON-RPC asks, and reads on. Bytes that are not
//! UTF-8 (a buffer in another encoding) become U+FFFD rather than a malformed message.

use std::io::{self, BufRead, Read, Write};
use std::thread::{self, JoinHandle};

use lsp_server::{Connection, ErrorCode, Message};

use crate::lsp::log;

/// Far beyond any circuit file, and far below what would exhaust memory.
const MAX_MESSAGE: usize = 64 << 20;

pub struct Transport {
    writer: JoinHandle<()>,
}

impl Transport {
    /// Waits until every message the server sent is written. The reader is left alone: it
    /// stops at `exit` or at the end of stdin, and may be blocked reading either.
    pub fn finish(self) {
        if self.writer.join().is_err() {
            log("the writer thread panicked");
        }
    }
}

/// The server's end of a connection whose other end is stdin and stdout.
pub fn stdio() -> (Connection, Transport) {
    let (server, client) = Connection::memory();
    let Connection {
        sender: to_server,
        receiver: from_server,
    } = client;
    let writer = thread::spawn(move || {
        for message in from_server {
            let mut frame = Vec::new();
            if let Err(error) = message.write(&mut frame).and_then(|()| write_frame(&frame)) {
                log(format_args!("cannot write to stdout: {error}"));
                return;
            }
        }
    });
    thread::spawn(move || {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        loop {
            let body = match read_body(&mut input) {
                Ok(Some(Ok(body))) => body,
                Ok(Some(Err(problem))) => {
                    log(problem);
                    continue;
                }
                Ok(None) => return,
                Err(error) => {
                    log(format_args!("cannot read stdin: {error}"));
                    return;
                }
            };
            // A buffer that is not UTF-8 (Vim's `++bad=keep`) still reaches the server, its
            // bad bytes as U+FFFD, so the file is checked rather than the message refused.
            let text = String::from_utf8_lossy(&body);
            match serde_json::from_str::<Message>(&text) {
                Ok(message) => {
                    let exit = matches!(&message, Message::Notification(n) if n.method == "exit");
                    if to_server.send(message).is_err() || exit {
                        return;
                    }
                }
                Err(error) => {
                    log(format_args!("malformed message: {error}"));
                    if let Err(error) = write_error_for(&body, &error.to_string()) {
                        log(format_args!("cannot write to stdout: {error}"));
                        return;
                    }
                }
            }
        }
    });
    (server, Transport { writer })
}

/// The body of the next message: `None` at the end of the input, `Some(Err(..))` for a
/// message whose headers make no sense (skipped).
fn read_body(input: &mut impl BufRead) -> io::Result<Option<Result<Vec<u8>, String>>> {
    let mut length = None;
    let mut problem = None;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        match header.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => problem = Some(format!("bad Content-Length: {header:?}")),
                }
            }
            Some(_) => {}
            None => problem = Some(format!("malformed header: {header:?}")),
        }
    }
    let Some(length) = length else {
        return Ok(Some(Err(
            problem.unwrap_or_else(|| "message without Content-Length".into())
        )));
    };
    if length > MAX_MESSAGE {
        // Skipped rather than allocated: a wrong length must not take the server down.
        io::copy(&mut input.take(length as u64), &mut io::sink())?;
        return Ok(Some(Err(format!("skipped a message of {length} bytes"))));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(Ok(body)))
}

/// JSON-RPC's answer to a message that is no JSON-RPC message: a parse error for text
/// that is not JSON, an invalid request for JSON that is not a message. Its id is the
/// message's when it has a usable one, else `null`.
fn write_error_for(body: &[u8], reason: &str) -> io::Result<()> {
    let (id, code) = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => {
            let id = value
                .get("id")
                .filter(|id| id.is_number() || id.is_string())
                .cloned();
            (id, ErrorCode::InvalidRequest)
        }
        Err(_) => (None, ErrorCode::ParseError),
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code as i32, "message": format!("malformed message: {reason}") },
    })
    .to_string();
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body.as_bytes());
    write_frame(&frame)
}

/// One whole frame under the stdout lock, so the reader's and the writer's frames never
/// interleave.
fn write_frame(frame: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(frame)?;
    stdout.flush()
}
