//! `/metrics` lines about the process itself: `smsgate_build_info` and the standard
//! `process_*` metrics of Prometheus' client libraries (CPU, memory, file descriptors, start
//! time), read from `/proc/self` at each scrape. On a system without `/proc` only the build
//! information is written.

use std::fmt::Write;

/// Append the build information and the process metrics to `out`.
pub fn render(out: &mut String) {
    let _ = write!(
        out,
        "# TYPE smsgate_build_info gauge\n# HELP smsgate_build_info The running build (always 1).\nsmsgate_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        out,
        "# TYPE smsgate_clock_step_seconds gauge\n# HELP smsgate_clock_step_seconds How far the system clock was stepped since the gateway started (its own clock does not follow steps; restart to re-read it).\nsmsgate_clock_step_seconds {}\n",
        smsgate_core::clock::step_ms() as f64 / 1000.0
    );
    if let Some(p) = read() {
        let mut metric = |name: &str, kind: &str, help: &str, v: f64| {
            let _ = write!(
                out,
                "# TYPE {name} {kind}\n# HELP {name} {help}\n{name} {v}\n"
            );
        };
        metric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        );
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            p.rss_bytes as f64,
        );
        metric(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            p.vsize_bytes as f64,
        );
        metric(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            p.open_fds as f64,
        );
        if let Some(max) = p.max_fds {
            metric(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max as f64,
            );
        }
        if let Some(start) = p.start_time_seconds {
            metric(
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                start,
            );
        }
        metric(
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
            p.threads as f64,
        );
    }
}

struct Process {
    cpu_seconds: f64,
    rss_bytes: u64,
    vsize_bytes: u64,
    open_fds: usize,
    max_fds: Option<u64>,
    start_time_seconds: Option<f64>,
    threads: u64,
}

fn read() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the
    // last `)`. `rest[0]` is field 3 (state).
    let rest: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |n: usize| -> Option<u64> { rest.get(n - 3)?.parse().ok() };
    // SAFETY: sysconf only reads a system constant.
    let ticks = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as f64,
        _ => 100.0,
    };
    // SAFETY: as above.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as u64,
        _ => 4096,
    };
    let cpu_seconds = (field(14)? + field(15)?) as f64 / ticks;
    let threads = field(20)?;
    let start_ticks = field(22)?;
    let vsize_bytes = field(23)?;
    let rss_bytes = field(24)? * page;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        });
    let start_time_seconds = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        let btime: f64 = s
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        Some(btime + start_ticks as f64 / ticks)
    });
    Some(Process {
        cpu_seconds,
        rss_bytes,
        vsize_bytes,
        open_fds,
        max_fds,
        start_time_seconds,
        threads,
    })
}
