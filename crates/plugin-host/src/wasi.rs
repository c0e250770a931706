//! WASI for the computing worlds (filter, route, interceptor): synchronous and never blocking.
//!
//! These plugins are called synchronously on the thread that routes the message (a call is a
//! few microseconds; a fiber per call would cost more than the filter itself). wasmtime-wasi's
//! synchronous WASI runs its blocking operations (`pollable.block`, `blocking-write-and-flush`,
//! UDP socket creation, ...) with `Handle::block_on`, which must not run on a runtime thread.
//! So this linker replaces every such import:
//! - `wasi:io/poll` and `wasi:io/streams`: an operation that is ready at once (writing to the
//!   null stdout/stderr, a refused connect) completes; one that would wait (a sleep, reading
//!   stdin) traps the call: these plugins may compute, not wait;
//! - `wasi:sockets` TCP and UDP socket creation is refused with `access-denied` and counted
//!   in the plugin's `denied` counter (so no socket, bound or connected, ever exists);
//! - the rest is wasmtime-wasi's own synchronous WASI with nothing granted (no preopened
//!   directories, so no filesystem call can reach a file; no environment; no name lookup).

use std::future::Future;
use std::sync::atomic::Ordering;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::io::{poll as async_poll, streams as async_streams};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::bindings::sync::sockets::udp_create_socket;
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, SocketError, SocketResult, StreamResult,
    TcpSocket, UdpSocket,
};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

use super::state::{PluginCounters, State};

/// Add the non-blocking WASI of the computing worlds to `l`.
pub fn add_to_linker(l: &mut Linker<State>) -> wasmtime::Result<()> {
    clocks::wall_clock::add_to_linker::<State, WasiClocks>(l, State::clocks)?;
    clocks::monotonic_clock::add_to_linker::<State, WasiClocks>(l, State::clocks)?;
    filesystem::preopens::add_to_linker::<State, WasiFilesystem>(l, State::filesystem)?;
    wasmtime_wasi::p2::bindings::sync::filesystem::types::add_to_linker::<State, WasiFilesystem>(
        l,
        State::filesystem,
    )?;
    random::random::add_to_linker::<State, WasiRandom>(l, State::random)?;
    random::insecure::add_to_linker::<State, WasiRandom>(l, State::random)?;
    random::insecure_seed::add_to_linker::<State, WasiRandom>(l, State::random)?;
    cli::exit::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::environment::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::stdin::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::stdout::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::stderr::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_input::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_output::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_stdin::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_stdout::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_stderr::add_to_linker::<State, WasiCli>(l, State::cli)?;
    sockets::instance_network::add_to_linker::<State, WasiSockets>(l, State::sockets)?;
    sockets::network::add_to_linker::<State, WasiSockets>(l, &Default::default(), State::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<State, WasiSockets>(l, State::sockets)?;
    // Socket methods are unreachable (no socket can be created) but their imports resolve.
    wasmtime_wasi::p2::bindings::sync::sockets::tcp::add_to_linker::<State, WasiSockets>(
        l,
        State::sockets,
    )?;
    wasmtime_wasi::p2::bindings::sync::sockets::udp::add_to_linker::<State, WasiSockets>(
        l,
        State::sockets,
    )?;
    sockets::tcp_create_socket::add_to_linker::<State, NoSockets>(l, no_sockets)?;
    udp_create_socket::add_to_linker::<State, NoSockets>(l, no_sockets)?;
    wasmtime_wasi::p2::bindings::io::error::add_to_linker::<State, NonBlocking>(l, |s| {
        NonBlockingIo(s.table_and_counters().0)
    })?;
    poll::add_to_linker::<State, NonBlocking>(l, |s| NonBlockingIo(s.table_and_counters().0))?;
    streams::add_to_linker::<State, NonBlocking>(l, |s| NonBlockingIo(s.table_and_counters().0))?;
    Ok(())
}

/// `f` if it completes at once, else a trap: the computing worlds may not wait.
fn at_once<F: Future>(what: &str, f: F) -> wasmtime::Result<F::Output> {
    let mut f = std::pin::pin!(f);
    wasmtime_wasi::runtime::with_ambient_tokio_runtime(|| {
        wasmtime_wasi::runtime::poll_noop(f.as_mut())
    })
    .ok_or_else(|| {
        wasmtime::Error::msg(format!(
            "{what} would wait: filter, route and interceptor plugins may not block (sleep, I/O)"
        ))
    })
}

/// A stream result that would block becomes a trap.
fn stream_at_once<T, F: Future<Output = StreamResult<T>>>(what: &str, f: F) -> StreamResult<T> {
    at_once(what, f).map_err(wasmtime_wasi::p2::StreamError::Trap)?
}

/// `wasi:io` on the plugin's resource table, never blocking.
pub struct NonBlockingIo<'a>(&'a mut ResourceTable);

struct NonBlocking;

impl HasData for NonBlocking {
    type Data<'a> = NonBlockingIo<'a>;
}

impl wasmtime_wasi::p2::bindings::io::error::Host for NonBlockingIo<'_> {}

impl wasmtime_wasi::p2::bindings::io::error::HostError for NonBlockingIo<'_> {
    fn drop(&mut self, err: Resource<wasmtime_wasi::p2::IoError>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::bindings::io::error::HostError::drop(self.0, err)
    }

    fn to_debug_string(
        &mut self,
        err: Resource<wasmtime_wasi::p2::IoError>,
    ) -> wasmtime::Result<String> {
        wasmtime_wasi::p2::bindings::io::error::HostError::to_debug_string(self.0, err)
    }
}

impl poll::Host for NonBlockingIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        at_once("poll", async_poll::Host::poll(self.0, pollables))?
    }
}

impl poll::HostPollable for NonBlockingIo<'_> {
    fn ready(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<bool> {
        at_once("pollable.ready", async_poll::HostPollable::ready(self.0, p))?
    }

    fn block(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<()> {
        at_once("pollable.block", async_poll::HostPollable::block(self.0, p))?
    }

    fn drop(&mut self, p: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.0, p)
    }
}

impl streams::Host for NonBlockingIo<'_> {
    fn convert_stream_error(
        &mut self,
        err: wasmtime_wasi::p2::StreamError,
    ) -> wasmtime::Result<streams::StreamError> {
        Ok(
            match async_streams::Host::convert_stream_error(self.0, err)? {
                async_streams::StreamError::LastOperationFailed(e) => {
                    streams::StreamError::LastOperationFailed(e)
                }
                async_streams::StreamError::Closed => streams::StreamError::Closed,
            },
        )
    }
}

use async_streams::{HostInputStream as AsyncIn, HostOutputStream as AsyncOut};

impl streams::HostOutputStream for NonBlockingIo<'_> {
    fn drop(&mut self, s: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        // Dropping the future of a pending cancellation drops the stream all the same.
        let _ = at_once("output-stream.drop", AsyncOut::drop(self.0, s));
        Ok(())
    }

    fn check_write(&mut self, s: Resource<DynOutputStream>) -> StreamResult<u64> {
        AsyncOut::check_write(self.0, s)
    }

    fn write(&mut self, s: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        AsyncOut::write(self.0, s, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        s: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        stream_at_once(
            "blocking-write-and-flush",
            AsyncOut::blocking_write_and_flush(self.0, s, bytes),
        )
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        s: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        stream_at_once(
            "blocking-write-zeroes-and-flush",
            AsyncOut::blocking_write_zeroes_and_flush(self.0, s, len),
        )
    }

    fn subscribe(
        &mut self,
        s: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncOut::subscribe(self.0, s)
    }

    fn write_zeroes(&mut self, s: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        AsyncOut::write_zeroes(self.0, s, len)
    }

    fn flush(&mut self, s: Resource<DynOutputStream>) -> StreamResult<()> {
        AsyncOut::flush(self.0, s)
    }

    fn blocking_flush(&mut self, s: Resource<DynOutputStream>) -> StreamResult<()> {
        stream_at_once("blocking-flush", AsyncOut::blocking_flush(self.0, s))
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        AsyncOut::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        stream_at_once(
            "blocking-splice",
            AsyncOut::blocking_splice(self.0, dst, src, len),
        )
    }
}

impl streams::HostInputStream for NonBlockingIo<'_> {
    fn drop(&mut self, s: Resource<DynInputStream>) -> wasmtime::Result<()> {
        let _ = at_once("input-stream.drop", AsyncIn::drop(self.0, s));
        Ok(())
    }

    fn read(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        AsyncIn::read(self.0, s, len)
    }

    fn blocking_read(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        stream_at_once("blocking-read", AsyncIn::blocking_read(self.0, s, len))
    }

    fn skip(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        AsyncIn::skip(self.0, s, len)
    }

    fn blocking_skip(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        stream_at_once("blocking-skip", AsyncIn::blocking_skip(self.0, s, len))
    }

    fn subscribe(
        &mut self,
        s: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncIn::subscribe(self.0, s)
    }
}

/// Socket creation for the computing worlds: always refused, and counted.
pub struct NoSocketsView<'a> {
    table: &'a mut ResourceTable,
    counters: &'a PluginCounters,
}

fn no_sockets(s: &mut State) -> NoSocketsView<'_> {
    let (table, counters) = s.table_and_counters();
    NoSocketsView { table, counters }
}

struct NoSockets;

impl HasData for NoSockets {
    type Data<'a> = NoSocketsView<'a>;
}

impl NoSocketsView<'_> {
    fn refuse<T>(&self) -> SocketResult<T> {
        self.counters.denied.fetch_add(1, Ordering::Relaxed);
        Err(SocketError::from(sockets::network::ErrorCode::AccessDenied))
    }
}

impl sockets::network::Host for NoSocketsView<'_> {
    fn convert_error_code(
        &mut self,
        error: SocketError,
    ) -> wasmtime::Result<sockets::network::ErrorCode> {
        error.downcast()
    }

    fn network_error_code(
        &mut self,
        _err: Resource<wasmtime_wasi::p2::IoError>,
    ) -> wasmtime::Result<Option<sockets::network::ErrorCode>> {
        Ok(None)
    }
}

impl sockets::network::HostNetwork for NoSocketsView<'_> {
    fn drop(&mut self, this: Resource<wasmtime_wasi::p2::Network>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl sockets::tcp_create_socket::Host for NoSocketsView<'_> {
    fn create_tcp_socket(
        &mut self,
        _family: sockets::network::IpAddressFamily,
    ) -> SocketResult<Resource<TcpSocket>> {
        self.refuse()
    }
}

impl udp_create_socket::Host for NoSocketsView<'_> {
    fn create_udp_socket(
        &mut self,
        _family: sockets::network::IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        self.refuse()
    }
}
