//! Campaigns, templates and the states of a delivery.

use super::{Invalid, status_enum};

status_enum!(
    /// `campaign` templates wrap a campaign body; `tx` templates are whole transactional mails.
    TemplateType, "template type" {
        Campaign => "campaign",
        Tx => "tx",
    }
);

status_enum!(
    /// How a campaign body is written. `richtext` is HTML from a rich-text editor.
    ContentType, "content type" {
        Richtext => "richtext",
        Html => "html",
        Markdown => "markdown",
        Plain => "plain",
    }
);

status_enum!(
    /// How a campaign reaches its readers. listmonk names others (SMS, webhooks); bulten
    /// sends e-mail.
    Messenger, "messenger" {
        Email => "email",
    }
);

status_enum!(
    /// `optin` campaigns ask unconfirmed subscribers to confirm.
    CampaignType, "campaign type" {
        Regular => "regular",
        Optin => "optin",
    }
);

status_enum!(
    /// Where a campaign is in its life.
    CampaignStatus, "campaign status" {
        Draft => "draft",
        Scheduled => "scheduled",
        Running => "running",
        Paused => "paused",
        Cancelled => "cancelled",
        Finished => "finished",
    }
);

impl CampaignStatus {
    /// Whether an editor may move a campaign from `self` to `to`. `finished` is reached only
    /// by delivering the last message.
    pub fn can_become(self, to: CampaignStatus) -> bool {
        use CampaignStatus::*;
        matches!(
            (self, to),
            (Draft, Scheduled | Running)
                | (Scheduled, Draft | Running | Cancelled)
                | (Running, Paused | Cancelled)
                | (Paused, Running | Cancelled)
        )
    }

    /// Whether the campaign's content may still be edited.
    pub fn is_editable(self) -> bool {
        matches!(self, Self::Draft | Self::Scheduled | Self::Paused)
    }

    /// # Errors
    /// When the move is not allowed; the message says which moves are.
    pub fn check_transition(self, to: CampaignStatus) -> Result<(), Invalid> {
        if self.can_become(to) {
            return Ok(());
        }
        let allowed: Vec<&str> = Self::ALL
            .iter()
            .filter(|s| self.can_become(**s))
            .map(|s| s.as_str())
            .collect();
        Err(Invalid(if allowed.is_empty() {
            format!("a {self} campaign cannot change its status")
        } else {
            format!(
                "a {self} campaign cannot become {to} (it can become: {})",
                allowed.join(", ")
            )
        }))
    }
}

status_enum!(
    /// A ledger row's state. `sending` rows are leased to a node.
    DeliveryStatus, "delivery status" {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Bounced => "bounced",
        Skipped => "skipped",
    }
);

#[cfg(test)]
mod tests {
    use super::CampaignStatus::*;

    #[test]
    fn campaigns_move_only_along_legal_transitions() {
        assert!(Draft.can_become(Running));
        assert!(Running.can_become(Paused));
        assert!(Paused.can_become(Running));
        assert!(!Finished.can_become(Running));
        assert!(!Cancelled.can_become(Running));
        assert!(!Draft.can_become(Finished));
        assert!(!Running.can_become(Draft));
        let err = Running.check_transition(Draft).unwrap_err();
        assert!(err.0.contains("paused, cancelled"), "{err}");
    }
}
