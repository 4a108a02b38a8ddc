//! Human progress: bars on a terminal, nothing otherwise (log lines say when each step ends).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Hands out progress bars, or silent stand-ins when stderr is not a terminal.
#[derive(Debug)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

/// One bar; every method is a no-op when progress is off.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Bars only when `enabled` (a TTY and not `--quiet`/`--json`).
    pub fn new(enabled: bool) -> Self {
        Progress {
            multi: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A bar counting bytes.
    pub fn bytes(&self, label: &str, total: u64) -> Bar {
        self.add(
            label,
            total,
            "{prefix:>32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
    }

    /// A bar counting rows.
    pub fn rows(&self, label: &str, total: u64) -> Bar {
        self.add(
            label,
            total,
            "{prefix:>32} [{bar:30}] {human_pos}/{human_len} rows",
        )
    }

    fn add(&self, label: &str, total: u64, template: &str) -> Bar {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        Bar { bar }
    }
}

impl Bar {
    /// Sets the position.
    pub fn set(&self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        }
    }

    /// Marks the bar done.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// Human-readable size (binary units, as `ls -h`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
