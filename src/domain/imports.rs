//! Imports: what an import does to the rows it reads, and where a run stands.

use super::status_enum;

status_enum!(
    /// What an import does: subscribe the rows to lists, or blocklist them.
    ImportMode, "import mode" {
        Subscribe => "subscribe",
        Blocklist => "blocklist",
    }
);

status_enum!(
    /// Where an import run stands. `importing` and `stopping` are running; a run is stopped
    /// only by a request, and left `failed` when the process running it died.
    ImportRunStatus, "import status" {
        Importing => "importing",
        Stopping => "stopping",
        Stopped => "stopped",
        Finished => "finished",
        Failed => "failed",
    }
);

impl ImportRunStatus {
    /// Whether a process is working on the run (so no other may start).
    pub fn is_running(self) -> bool {
        matches!(self, Self::Importing | Self::Stopping)
    }
}
