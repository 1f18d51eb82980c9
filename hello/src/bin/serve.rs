//! `serve`: the smallest Docker web server. It serves one page, baked in at
//! build time, to every `GET` and `HEAD`, on TCP port 8080 (or the one built
//! in), on every IPv4 and IPv6 address through one dual-stack socket.
//!
//! HTTP/1.1 as curl, browsers, wrk and ab speak it (RFC 9112):
//! - `GET` or `HEAD`, any path: `200` with Content-Type and Content-Length
//!   (and the page, for `GET`). HTTP/1.1 connections stay open and pipelined
//!   requests are answered in order; HTTP/1.0, or `Connection: close`, gets
//!   `Connection: close` and the connection is closed.
//! - Any other method: `405` with `Allow: GET, HEAD`, then close.
//! - A malformed request line or header line: `400`, then close.
//! - A request head over `MAX_HEAD` bytes: `431`, then close.
//!
//! Design: one process per connection. The first process accepts, and forks a
//! child for each connection, which serves it with blocking calls and exits.
//! The kernel then does the scheduling, a slow client holds up only its own
//! process, and what a client can hold is bounded per process: `MAX_HEAD`
//! bytes of stack for its request, `IDLE` seconds (SIGALRM ends the child)
//! for each request and its response. When `fork` fails (out of processes or
//! memory) that one connection is closed and the server goes on.
//!
//! Signals: SIGTERM and SIGINT exit with status 0 (as PID 1 in a container the
//! kernel ignores them unless handled); SIGPIPE is ignored, so a client that
//! goes away costs only its own connection; SIGCHLD is ignored, so the kernel
//! reaps the children.
//!
//! Exit statuses: 0 on SIGTERM or SIGINT; when it cannot listen, the errno of
//! the call that failed (98 `EADDRINUSE`: the port is taken; 13 `EACCES`: a
//! port below 1024 without the privilege; 97 `EAFNOSUPPORT`: no IPv6).
#![no_std]
#![no_main]
#![deny(unsafe_code)] // `_start`'s attribute and the view of the filled buffer opt in

// The library brings the panic handler, also where `server` is left out.
use hello as _;

// The system calls it needs exist for x86-64 and arm64 (src/sys/calls.rs);
// `cargo xtask dist` builds it for those platforms only (linker/serve-<arch>.ld),
// and on the others this file is checked (clippy) but has no program in it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod server {
    use core::mem::MaybeUninit;
    use hello::sys::{self, Action, IoVec, SigAction};

    /// The longest request head (request line and headers) a client may send: 8 KiB,
    /// the size of nginx's large header buffers; enough for a browser's request
    /// with cookies. It lives on the child's stack, so it bounds each client's memory.
    const MAX_HEAD: usize = 8 * 1024;
    /// Seconds a client has for each request, from the end of the last response to
    /// the end of this one's: idle keep-alive connections and clients that send
    /// half a request are closed after this.
    const IDLE: u32 = 10;
    /// Connections the kernel queues before `accept`; it caps this at
    /// net.core.somaxconn.
    const BACKLOG: u32 = 4096;

    /// The 200 response's status line and headers (`Content-Type`, `Content-Length`),
    /// written by build.rs.
    static HEAD: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/serve-head.bin")).len()] =
        *include_bytes!(concat!(env!("OUT_DIR"), "/serve-head.bin"));
    /// The page.
    static PAGE: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/serve-page.bin")).len()] =
        *include_bytes!(concat!(env!("OUT_DIR"), "/serve-page.bin"));
    /// The TCP port, big-endian.
    const PORT: [u8; 2] = *include_bytes!(concat!(env!("OUT_DIR"), "/serve-port.bin"));

    /// The end of every error response; its tail ends the responses that close the
    /// connection ([`CLOSE`]), and its last two bytes end the others ([`KEEP`]).
    const END: &[u8] = b"Content-Length: 0\r\nConnection: close\r\n\r\n";
    const CLOSE: &[u8] = END.split_at(19).1;
    const KEEP: &[u8] = END.split_at(END.len() - 2).1;
    const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\n";
    const NOT_ALLOWED: &[u8] = b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n";
    const TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n";

    /// The SIGTERM and SIGINT handler: stop at once.
    extern "C" fn stop(_: i32) -> ! {
        sys::exit(0)
    }

    /// A failed setup call's result as the exit status (its errno). One copy of
    /// the exit, not one per call.
    #[inline(never)]
    fn check(ret: isize) -> u32 {
        if ret < 0 {
            sys::exit(ret.unsigned_abs() as u32)
        }
        ret as u32
    }

    /// The process entry point: the kernel jumps here with nothing set up but a stack.
    #[allow(unsafe_code)]
    // SAFETY: `_start` is the one symbol of that name in the program (no C runtime is
    // linked), so exporting it unmangled cannot clash with another definition.
    #[unsafe(no_mangle)]
    pub extern "C" fn _start() -> ! {
        // One struct sigaction, its handler changed between calls.
        let mut action = SigAction::new(Action::Run(stop));
        sys::sigaction(sys::SIGTERM, &action);
        sys::sigaction(sys::SIGINT, &action);
        action.set(Action::Ignore);
        sys::sigaction(sys::SIGPIPE, &action);
        sys::sigaction(sys::SIGCHLD, &action);

        let listener = check(sys::socket(sys::AF_INET6, sys::SOCK_STREAM, 0));
        // Three options no new TCP socket refuses (valid levels, names and sizes),
        // so their results are not checked (tests/serve.rs reaches the server
        // over both IPv4 and IPv6, which the second one makes possible).
        // A restarted server can bind while old connections sit in TIME_WAIT.
        sys::setsockopt(listener, sys::SOL_SOCKET, sys::SO_REUSEADDR, &1);
        // Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d, whatever the
        // net.ipv6.bindv6only default is.
        sys::setsockopt(listener, sys::IPPROTO_IPV6, sys::IPV6_V6ONLY, &0);
        // Pipelined responses go out at once, not after the previous one's ACK;
        // Linux copies it to every accepted socket.
        sys::setsockopt(listener, sys::IPPROTO_TCP, sys::TCP_NODELAY, &1);
        // struct sockaddr_in6: family, port (big-endian), flow info, address (::), scope.
        let mut addr = [0u8; 28];
        addr[0] = sys::AF_INET6 as u8;
        addr[2] = PORT[0];
        addr[3] = PORT[1];
        check(sys::bind(listener, &addr));
        check(sys::listen(listener, BACKLOG));

        loop {
            let client = sys::accept4(listener, 0);
            if client < 0 {
                // The client went away before accept, or the system is out of memory
                // or descriptors for now: take the next one.
                continue;
            }
            let client = client as u32;
            if sys::fork() == 0 {
                sys::close(listener);
                serve(client);
            }
            // The child has its own copy (or fork failed: this closes the connection).
            sys::close(client);
        }
    }

    /// Serves one connection until the client closes it, breaks the protocol, or
    /// runs out of time; then exits.
    #[allow(unsafe_code)]
    fn serve(fd: u32) -> ! {
        // Not zeroed: the kernel writes what `read` returns, and only those bytes
        // are looked at. (Zeroing would also touch every page of it.)
        let mut buf = [MaybeUninit::<u8>::uninit(); MAX_HEAD];
        let mut len = 0;
        loop {
            sys::alarm(IDLE);
            let (end, reply) = loop {
                let (filled, free) = buf.split_at_mut(len);
                // SAFETY: `read` (the kernel) wrote the first `len` bytes of `buf`,
                // so `filled` is initialized; MaybeUninit<u8> has the layout of u8.
                let filled = unsafe { &*(filled as *const [MaybeUninit<u8>] as *const [u8]) };
                if let Some(end) = head_end(filled) {
                    break (end, parse(&filled[..end]));
                }
                if free.is_empty() {
                    refuse(fd, TOO_LARGE, &mut buf);
                }
                let n = sys::read(fd, free);
                if n <= 0 {
                    sys::exit(0);
                }
                len += n as usize;
            };
            let (head_only, close) = match reply {
                Ok(reply) => reply,
                Err(status) => refuse(fd, status, &mut buf),
            };
            let tail = if close { CLOSE } else { KEEP };
            let body = if head_only { &[][..] } else { &PAGE[..] };
            let want = HEAD.len() + tail.len() + body.len();
            if sys::writev(fd, &[IoVec::new(&HEAD), IoVec::new(tail), IoVec::new(body)])
                != want as isize
            {
                // The client is gone (EPIPE, ECONNRESET): nothing more to do.
                sys::exit(0);
            }
            if close {
                linger(fd, &mut buf);
            }
            // The next pipelined request, if any, moves to the front. (Swaps, not
            // `copy_within`: that calls `memmove`, which no libc provides here.)
            for i in end..len {
                buf.swap(i - end, i);
            }
            len -= end;
        }
    }

    /// Where the request head in `buf` ends: just after its first empty line (CRLF
    /// or a bare LF, as RFC 9112 section 2.2 lets a server accept).
    fn head_end(buf: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < buf.len() {
            if buf[i] == b'\n' {
                match buf.get(i + 1..) {
                    Some([b'\n', ..]) => return Some(i + 2),
                    Some([b'\r', b'\n', ..]) => return Some(i + 3),
                    _ => {}
                }
            }
            i += 1;
        }
        None
    }

    /// Reads a request head: `Ok((head_only, close))` for GET and HEAD, or the
    /// error status line.
    fn parse(mut head: &[u8]) -> Result<(bool, bool), &'static [u8]> {
        // The request line: method SP target SP HTTP/1.x, nothing else.
        let Some((start, version)) = next_line(&mut head).split_last_chunk::<9>() else {
            return Err(BAD_REQUEST);
        };
        let Some(sp) = start.iter().position(|&b| b == b' ') else {
            return Err(BAD_REQUEST);
        };
        let (method, target) = (&start[..sp], &start[sp + 1..]);
        if !visible(method) || !visible(target) || version[..8] != *b" HTTP/1." {
            return Err(BAD_REQUEST);
        }
        let mut close = match version[8] {
            b'1' => false,
            b'0' => true,
            _ => return Err(BAD_REQUEST),
        };
        // Header lines up to the empty line: a visible name, a colon, a value.
        loop {
            let line = next_line(&mut head);
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(BAD_REQUEST);
            };
            let (name, value) = line.split_at(colon);
            if !visible(name) {
                return Err(BAD_REQUEST);
            }
            if lower_eq(name, b"connection") && value.windows(5).any(|w| lower_eq(w, b"close")) {
                close = true;
            }
        }
        match method {
            b"GET" => Ok((false, close)),
            b"HEAD" => Ok((true, close)),
            _ => Err(NOT_ALLOWED),
        }
    }

    /// Takes the first line off `text`: the line without its LF (and CR, if any).
    fn next_line<'a>(text: &mut &'a [u8]) -> &'a [u8] {
        let n = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
        let (line, rest) = text.split_at(n);
        *text = rest.get(1..).unwrap_or_default();
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// True when `s` is not empty and every byte is visible ASCII (no space, no
    /// control byte).
    fn visible(s: &[u8]) -> bool {
        !s.is_empty() && s.iter().all(|&b| b > b' ' && b < 0x7f)
    }

    /// ASCII case-insensitive equality with `lower`, which is lowercase letters.
    fn lower_eq(s: &[u8], lower: &[u8]) -> bool {
        s.len() == lower.len() && s.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
    }

    /// Sends the error `status` and closes.
    fn refuse(fd: u32, status: &[u8], buf: &mut [MaybeUninit<u8>]) -> ! {
        sys::writev(fd, &[IoVec::new(status), IoVec::new(END)]);
        linger(fd, buf)
    }

    /// Closes gracefully: sends FIN, then reads what the client still sends until it
    /// closes (or the alarm ends the process), so that unread bytes do not make the
    /// kernel reset the connection before the client has read the response.
    fn linger(fd: u32, buf: &mut [MaybeUninit<u8>]) -> ! {
        sys::shutdown(fd, sys::SHUT_WR);
        while sys::read(fd, buf) > 0 {}
        sys::exit(0)
    }
}
