//! This module deals with what the operating system says about processes: a server's resident
//! memory (`VmRSS`, and its peak `VmHWM`) and CPU time from `/proc/<pid>`, the generator's own
//! CPU time (`getrusage`), and the open-files limit that thousands of sockets need.

use std::time::Duration;

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim_start_matches(':').split_whitespace().next()?.parse().ok()
}

/// Resident memory now, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// Peak resident memory since the process started, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM")
}

/// The fields of `/proc/<pid>/stat` after the command name: index 0 is field 3 (state),
/// 1 the parent pid, 11 and 12 utime and stime, 13 and 14 cutime and cstime (reaped children).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn ticks(fields: &[String], at: &[usize]) -> Option<u64> {
    at.iter().map(|&i| fields.get(i)?.parse::<u64>().ok()).sum()
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf reads a constant and has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// User plus system CPU time the process has used.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the paren.
    stat_fields(pid).and_then(|f| ticks(&f, &[11, 12])).map(ticks_to_duration)
}

/// CPU time of a process and its children: its own, the children it has reaped (cutime,
/// cstime) and the children alive now (found by parent pid in `/proc`). For PostgreSQL,
/// whose work happens in one backend process per connection under the postmaster.
pub fn tree_cpu_time(pid: u32) -> Option<Duration> {
    let own = ticks(&stat_fields(pid)?, &[11, 12, 13, 14])?;
    let mut children = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(f) = stat_fields(child) {
            if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
                children += ticks(&f, &[11, 12]).unwrap_or(0);
            }
        }
    }
    Some(ticks_to_duration(own + children))
}

/// The whole machine's CPU counters from `/proc/stat`: (busy, total) in clock ticks summed
/// over all cores; busy is everything but idle and iowait.
pub fn machine_cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let v: Vec<u64> =
        line.split_whitespace().skip(1).take(8).filter_map(|x| x.parse().ok()).collect();
    if v.len() < 8 {
        return None;
    }
    let total: u64 = v.iter().sum();
    Some((total - v[3] - v[4], total))
}

/// Busy CPU of the whole machine between two [`machine_cpu_ticks`] readings, in % of one
/// core (200 % = both cores of a 2-core machine): what every process used, ours or not.
pub fn machine_cpu_pct(a: (u64, u64), b: (u64, u64)) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = b.1.saturating_sub(a.1);
    if total == 0 {
        return 0.0;
    }
    100.0 * cores * b.0.saturating_sub(a.0) as f64 / total as f64
}

/// The 1-minute load average: how busy the shared machine was before a run.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// CPU time this process (the generator) has used, user plus system.
pub fn own_cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given and has no other effect.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Raises the soft open-files limit to the hard limit; returns the limit now in force.
pub fn raise_open_files() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct they are given.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        lim.rlim_cur
    }
}

/// The local port range for outgoing connections, `(low, high)`: one client IP can hold at
/// most `high - low + 1` connections to one server port.
pub fn ephemeral_ports() -> Option<(u32, u32)> {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse().ok());
    Some((it.next()??, it.next()??))
}

/// The CPUs the servers under test are started on (`taskset -c`), when the run is pinned.
static SERVER_CPUS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Pins this process (and so every thread and child it starts afterwards: the generator's
/// runtime and its Node.js workers) to the CPUs of `generator`, and makes [`command`] start
/// servers on `server` (lists as `taskset -c` reads them, e.g. `0` and `1`). Call before
/// any thread starts.
pub fn pin(server: &str, generator: &str) -> Result<(), String> {
    let cpus = parse_cpus(generator)?;
    parse_cpus(server)?;
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within it for cpu < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("sched_setaffinity: {}", std::io::Error::last_os_error()));
        }
    }
    SERVER_CPUS.set(server.to_owned()).map_err(|_| "pinned twice".to_string())
}

fn parse_cpus(list: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in list.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| format!("bad CPU list `{list}`"))?,
            b.trim().parse().map_err(|_| format!("bad CPU list `{list}`"))?,
        );
        if a > b || b >= 1024 {
            return Err(format!("bad CPU list `{list}`"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// `program`, started on the servers' CPUs when the run is pinned ([`pin`]).
pub(crate) fn command(program: &std::path::Path) -> tokio::process::Command {
    match SERVER_CPUS.get() {
        Some(cpus) => {
            let mut c = tokio::process::Command::new("taskset");
            c.arg("-c").arg(cpus).arg(program);
            c
        }
        None => tokio::process::Command::new(program),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_as_taskset_reads_them() {
        assert_eq!(parse_cpus("0").unwrap(), [0]);
        assert_eq!(parse_cpus("0-2,5").unwrap(), [0, 1, 2, 5]);
        for bad in ["", "x", "2-1", "1024", "0,"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let rss = rss_kib(pid).expect("VmRSS");
        // Both are read; not compared: the kernel batches RSS counters per CPU, so a peak
        // read after the current size was seen below it once, with other tests running.
        assert!(rss > 0 && peak_rss_kib(pid).unwrap() > 0);
        // Own time first: read after it, the tree's (which includes it) cannot be smaller.
        let own = cpu_time(pid).unwrap();
        assert!(tree_cpu_time(pid).unwrap() >= own);
        let (busy, total) = machine_cpu_ticks().expect("/proc/stat");
        assert!(busy <= total && total > 0);
        assert!(load_average().is_some());
        assert!(raise_open_files() > 0);
        let (lo, hi) = ephemeral_ports().expect("port range");
        assert!(lo < hi);
    }
}
