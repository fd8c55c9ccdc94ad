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
                Permission::UsersManage | Permission::SettingsManage
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

/// Someone acting through the API (and, later, the admin pages).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    #[expect(dead_code, reason = "the audit log of the desk records who acted")]
    pub id: i64,
    #[expect(dead_code, reason = "the audit log of the desk records who acted")]
    pub name: String,
    pub role: Role,
}

impl Caller {
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
