//! What a running process has cost, read from `/proc`, and the CPU share
//! Lambda gives a function, held with the cgroup v1 `cpu` controller.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The CPU time a process has spent, user and system, summed over its
/// threads from each thread's scheduler statistics (nanoseconds, where
/// `/proc/<pid>/stat` counts in 10 ms ticks).
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    let tasks = format!("/proc/{pid}/task");
    let mut total: u64 = 0;
    for task in fs::read_dir(&tasks).map_err(|err| format!("{tasks}: {err}"))? {
        let path = task
            .map_err(|err| err.to_string())?
            .path()
            .join("schedstat");
        // A thread may end between the listing and the read.
        let Ok(line) = fs::read_to_string(&path) else {
            continue;
        };
        let on_cpu: u64 = line
            .split_whitespace()
            .next()
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| format!("{}: unexpected {line:?}", path.display()))?;
        total += on_cpu;
    }
    Ok(Duration::from_nanos(total))
}

/// The process's user and system time, in clock ticks (`/proc/<pid>/stat`):
/// coarse, but it says how the CPU time splits.
pub fn user_and_system_ticks(pid: u32) -> Result<(u64, u64), String> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
    // The command name may hold spaces; the fields after it do not.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file; the name was field 2, so 11 and 12 here.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => Ok((user, system)),
        _ => Err(format!("{path}: unexpected {stat:?}")),
    }
}

/// The most memory the process has had resident (`VmHWM`), in bytes.
pub fn peak_resident(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("{path}: no VmHWM"))
}

/// The CPU the function measured runs on. The benchmark itself and the
/// emulator stay off it: on a machine of two, their work (the emulator is
/// Python) would otherwise run on the same core between the function's
/// calls and leave its caches cold, which Lambda's remote AWS never does.
pub const FUNCTION_CPU: usize = 0;

/// How many CPUs the machine has online (whatever this process is allowed).
pub fn cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|online| {
            online
                .trim()
                .split(',')
                .map(|range| match range.split_once('-') {
                    Some((a, b)) => Some(b.parse::<usize>().ok()? - a.parse::<usize>().ok()? + 1),
                    None => range.parse::<usize>().ok().map(|_| 1),
                })
                .sum::<Option<usize>>()
        })
        .unwrap_or(1)
}

/// `command`, run on `cpu` alone (with `taskset`), where there is more than
/// one CPU.
pub fn on_cpu(cpu: usize, command: Command) -> Command {
    if cpus() < 2 {
        return command;
    }
    let cpu = cpu.to_string();
    run_through("taskset", &["-c".as_ref(), cpu.as_ref()], &command)
}

/// Moves every thread of `pid` (and what it starts later) off the
/// function's CPU, where there is more than one CPU.
pub fn keep_off_function_cpu(pid: u32) -> Result<(), String> {
    let cpus = cpus();
    if cpus < 2 {
        return Ok(());
    }
    let others = format!("{}-{}", FUNCTION_CPU + 1, cpus - 1);
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", &others, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|err| format!("taskset: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("taskset -p -c {others} {pid}: {status}"))
    }
}

/// `command` started by `launcher` with `args` before it (`taskset -c 0
/// program ...`), with `command`'s environment (and only that, when
/// `command` cleared its own).
fn run_through(launcher: &str, args: &[&std::ffi::OsStr], command: &Command) -> Command {
    let mut wrapped = Command::new(launcher);
    wrapped
        .args(args)
        .arg(command.get_program())
        .args(command.get_args());
    wrapped.env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    wrapped
}

/// Lambda gives a function CPU in proportion to its memory: one whole vCPU
/// at 1,769 MB.
pub const MB_PER_VCPU: f64 = 1769.0;

/// A cgroup that holds its processes to a share of one CPU, as Lambda holds
/// a function of a given memory size; removed when dropped.
#[derive(Debug)]
pub struct CpuShare {
    dir: PathBuf,
}

impl CpuShare {
    /// A share of `share` of one CPU, enforced every `period`.
    ///
    /// # Errors
    ///
    /// When the cgroup v1 `cpu` controller is not mounted at
    /// `/sys/fs/cgroup/cpu` or this process may not make a group there.
    pub fn new(share: f64, period: Duration) -> Result<Self, String> {
        let root = PathBuf::from("/sys/fs/cgroup/cpu");
        if !root.join("cpu.cfs_quota_us").exists() {
            return Err("the cgroup v1 cpu controller is not mounted at /sys/fs/cgroup/cpu".into());
        }
        let dir = root.join(format!("onboard-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let group = Self { dir };
        let period_us = period.as_micros();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let quota_us = (period_us as f64 * share).round() as u64;
        group.write("cpu.cfs_period_us", &period_us.to_string())?;
        group.write("cpu.cfs_quota_us", &quota_us.to_string())?;
        Ok(group)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        fs::write(&path, value).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// `command`, started inside the group: a shell puts itself in the group,
    /// then becomes the program, so its very first instruction is held.
    pub fn wrap(&self, command: &Command) -> Command {
        let procs = self.dir.join("cgroup.procs");
        run_through(
            "/bin/sh",
            &[
                "-c".as_ref(),
                r#"echo $$ > "$0" && exec "$@""#.as_ref(),
                procs.as_os_str(),
            ],
            command,
        )
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        // Its processes have been stopped; an empty group can be removed.
        let _ = fs::remove_dir(&self.dir);
    }
}
