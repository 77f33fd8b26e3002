//! CPU time of a process, read from /proc.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// Returns the user plus system CPU time that process `pid` has used, from
/// fields 14 and 15 of /proc/PID/stat (proc(5)).
pub(crate) fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {path}; is the daemon running?"))?;
    // The command name (field 2) may contain spaces, so count fields after its closing parenthesis.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected format of {path}"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) has index 0, so utime (14) is index 11 and stime (15) index 12.
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("{path} has too few fields");
    };
    let ticks: u64 = utime.parse::<u64>()? + stime.parse::<u64>()?;
    let per_second = clock_ticks_per_second()?;
    Ok(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

fn clock_ticks_per_second() -> anyhow::Result<u64> {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("failed to run `getconf CLK_TCK`")?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("`getconf CLK_TCK` printed `{}`", text.trim()))
}
