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

/// What a caller limited to some lists may do on one of them (listmonk's list permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ListAccess {
    /// See the list, its readers and its campaigns.
    Get,
    /// Also change them: readers, subscriptions, the list itself, campaigns to it.
    Manage,
}

impl ListAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            ListAccess::Get => "list:get",
            ListAccess::Manage => "list:manage",
        }
    }
}

impl std::str::FromStr for ListAccess {
    type Err = crate::domain::Invalid;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "list:get" | "get" => Ok(ListAccess::Get),
            "list:manage" | "manage" => Ok(ListAccess::Manage),
            other => Err(crate::domain::Invalid(format!(
                "unknown list permission '{other}': use list:get or list:manage"
            ))),
        }
    }
}

/// The lists a caller reaches. Admins reach every list whatever is stored for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Lists {
    #[default]
    All,
    /// Only these lists, each with what the caller may do on it; no others exist for them.
    Only(std::collections::BTreeMap<i64, ListAccess>),
}

impl Lists {
    /// The lists reached with at least `access`; `None` for every list.
    pub(crate) fn with(&self, access: ListAccess) -> Option<Vec<i64>> {
        match self {
            Lists::All => None,
            Lists::Only(lists) => Some(
                lists
                    .iter()
                    .filter(|(_, a)| **a >= access)
                    .map(|(id, _)| *id)
                    .collect(),
            ),
        }
    }

    /// Whether list `id` is reached with at least `access`.
    pub(crate) fn allows(&self, id: i64, access: ListAccess) -> bool {
        match self {
            Lists::All => true,
            Lists::Only(lists) => lists.get(&id).is_some_and(|a| *a >= access),
        }
    }
}

/// Who acts on a use case: a person on the desk, a program through the API, or the CLI on
/// the server. Access checks read the role and the lists; the audit log records the rest.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) kind: CallerKind,
    /// The user's or API user's ID; 0 for the CLI and bulten itself.
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) role: Role,
    /// The lists the caller reaches: every list unless limited (never for an admin).
    pub(crate) lists: Lists,
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
            lists: Lists::All,
            ip: None,
        }
    }

    /// The lists reached with at least `access`; `None` for every list. What reads pass
    /// into their queries, so that a limited caller's pages and counts hold only their lists.
    pub(crate) fn lists_with(&self, access: ListAccess) -> Option<Vec<i64>> {
        self.lists.with(access)
    }

    /// Whether the caller reaches every list.
    pub(crate) fn reaches_all_lists(&self) -> bool {
        self.lists == Lists::All
    }

    /// # Errors
    /// `ForbiddenList`, naming the first list, when the caller lacks `access` on any of
    /// `ids`.
    pub(crate) fn require_lists(&self, ids: &[i64], access: ListAccess) -> OpsResult<()> {
        match ids.iter().find(|id| !self.lists.allows(**id, access)) {
            None => Ok(()),
            Some(id) => Err(OpsError::ForbiddenList { access, list: *id }),
        }
    }

    /// For what concerns every list (creating one, the outbox of every reader's mail).
    ///
    /// # Errors
    /// `ForbiddenAllLists` when the caller is limited to some lists.
    pub(crate) fn require_every_list(&self, permission: Permission) -> OpsResult<()> {
        if self.reaches_all_lists() {
            Ok(())
        } else {
            Err(OpsError::ForbiddenAllLists(permission))
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
