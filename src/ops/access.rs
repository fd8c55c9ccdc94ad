//! Who may do what: the permissions bulten's use cases need, and what each role grants.
//!
//! Every protected route names the one permission it needs (the route table in `web`), and
//! [`Caller::require`] decides, here, whether the caller's role grants it. The admin pages
//! ask the same question through the same function, so a role means the same in the browser
//! and through the API. The names follow listmonk's permission names where it has one.

use super::{OpsError, OpsResult};

/// What a user or API user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything.
    Admin,
    /// Everything but accounts and settings.
    Editor,
    /// Reading only, and never a reader's message or links.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Role::Admin => true,
            Role::Editor => !matches!(
                permission,
                Permission::UsersManage | Permission::SettingsManage | Permission::AuditGet
            ),
            Role::Viewer => permission.is_read_only(),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = crate::domain::Invalid;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Role::Admin),
            "editor" => Ok(Role::Editor),
            "viewer" => Ok(Role::Viewer),
            other => Err(crate::domain::Invalid(format!(
                "unknown role '{other}': use admin, editor or viewer"
            ))),
        }
    }
}

/// One thing a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    SubscribersGet,
    SubscribersManage,
    SubscribersImport,
    ListsGet,
    ListsManage,
    CampaignsGet,
    CampaignsManage,
    /// Start, pause, cancel, send tests.
    CampaignsSend,
    TemplatesGet,
    TemplatesManage,
    TxSend,
    /// The outbox's list: envelope and subject only.
    OutboxGet,
    /// Whole messages as a reader gets them (raw outbox messages, previews as a real reader):
    /// they carry the reader's unsubscribe and preference links.
    MessagesRead,
    UsersManage,
    SettingsManage,
    /// The audit log of staff's changes.
    AuditGet,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::SubscribersGet => "subscribers:get",
            Permission::SubscribersManage => "subscribers:manage",
            Permission::SubscribersImport => "subscribers:import",
            Permission::ListsGet => "lists:get",
            Permission::ListsManage => "lists:manage",
            Permission::CampaignsGet => "campaigns:get",
            Permission::CampaignsManage => "campaigns:manage",
            Permission::CampaignsSend => "campaigns:send",
            Permission::TemplatesGet => "templates:get",
            Permission::TemplatesManage => "templates:manage",
            Permission::TxSend => "tx:send",
            Permission::OutboxGet => "outbox:get",
            Permission::MessagesRead => "messages:read",
            Permission::UsersManage => "users:manage",
            Permission::SettingsManage => "settings:manage",
            Permission::AuditGet => "audit:get",
        }
    }

    /// Reading that shows no reader's message or links: what a viewer may do.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Permission::SubscribersGet
                | Permission::ListsGet
                | Permission::CampaignsGet
                | Permission::TemplatesGet
                | Permission::OutboxGet
        )
    }
}

/// Who acts on a use case: a person on the desk, a program through the API, or the CLI on
/// the server. Access checks read the role; the audit log records the rest.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) kind: CallerKind,
    /// The user's or API user's ID; 0 for the CLI and bulten itself.
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The address the request came from, when there was a request.
    pub(crate) ip: Option<String>,
}

/// What kind of actor a [`Caller`] is, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerKind {
    User,
    Api,
    Cli,
}

impl CallerKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallerKind::User => "user",
            CallerKind::Api => "api",
            CallerKind::Cli => "cli",
        }
    }
}

impl Caller {
    /// Whoever runs a command on the server, who may do anything.
    pub(crate) fn cli() -> Self {
        Self {
            kind: CallerKind::Cli,
            id: 0,
            name: "cli".into(),
            role: Role::Admin,
            ip: None,
        }
    }

    /// # Errors
    /// `Forbidden`, naming the permission, when the caller's role does not grant it.
    pub(crate) fn require(&self, permission: Permission) -> OpsResult<()> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(OpsError::Forbidden(permission))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_editors_write_and_only_admins_manage_accounts() {
        assert!(Role::Viewer.allows(Permission::SubscribersGet));
        assert!(!Role::Viewer.allows(Permission::SubscribersManage));
        assert!(!Role::Viewer.allows(Permission::MessagesRead));
        assert!(!Role::Viewer.allows(Permission::TxSend));
        assert!(Role::Editor.allows(Permission::MessagesRead));
        assert!(Role::Editor.allows(Permission::CampaignsSend));
        assert!(!Role::Editor.allows(Permission::UsersManage));
        assert!(!Role::Editor.allows(Permission::SettingsManage));
        assert!(Role::Admin.allows(Permission::UsersManage));
        for role in [Role::Admin, Role::Editor, Role::Viewer] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
    }
}
