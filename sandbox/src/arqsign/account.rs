//! The one ArqSign account the sandbox serves, seeded with users, folders and signer roles so
//! every lookup endpoint and every id rule of the send has something real to check against.
//!
//! Ids are fixed, so tests, the demo and the CLI can name them.

use chrono::{DateTime, Utc};

/// The account's id.
pub const ACCOUNT_ID: &str = "3f2b8c1e-5a47-4d2e-9b6a-1c0d2e3f4a50";
/// An active user allowed to send: the default `idResponsavel`.
pub const DEFAULT_RESPONSIBLE_ID: &str = "6b1f0d8e-2c3a-4e5f-8a9b-0c1d2e3f4a51";
/// An inactive user (still accepted as `idResponsavel`, contract §2.1).
pub const INACTIVE_USER_ID: &str = "6b1f0d8e-2c3a-4e5f-8a9b-0c1d2e3f4a52";
/// A blocked user (still accepted as `idResponsavel`).
pub const BLOCKED_USER_ID: &str = "6b1f0d8e-2c3a-4e5f-8a9b-0c1d2e3f4a53";
/// The root folder, "Arquivar".
pub const ROOT_FOLDER_ID: &str = "9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e60";
/// "Arquivar|Administração|Contratos": the default `idPasta`.
pub const DEFAULT_FOLDER_ID: &str = "9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e62";
/// "Arquivar|Arquivo morto", logically deleted (accepted by the send since 2.6.0).
pub const DELETED_FOLDER_ID: &str = "9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e64";

const ADMINISTRATION_FOLDER_ID: &str = "9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e61";
const HR_FOLDER_ID: &str = "9c4d2e1f-7b6a-4c5d-8e9f-0a1b2c3d4e63";
pub(crate) const PLAN_ID: &str = "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c70";
pub(crate) const SUBSCRIPTION_ID: &str = "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c71";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserStatus {
    Active,
    Inactive,
    Blocked,
}

impl UserStatus {
    pub fn label(self) -> &'static str {
        match self {
            UserStatus::Active => "Ativo",
            UserStatus::Inactive => "Inativo",
            UserStatus::Blocked => "Bloqueado",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub status: UserStatus,
    /// Whether the user may send processes (the `remetente` flag of `buscar-usuarios`).
    pub sender: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Folder {
    pub id: &'static str,
    pub name: &'static str,
    pub parent: Option<&'static str>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub id: &'static str,
    pub name: &'static str,
    /// Created by ArqSign rather than by the account.
    pub default: bool,
}

/// Balances of the credit types a send consumes (contract §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Credits {
    /// One per process sent.
    pub envios: i64,
    /// One per recipient reached by WhatsApp.
    pub whatsapp: i64,
    /// One per security code sent by SMS.
    pub sms: i64,
}

impl Default for Credits {
    fn default() -> Credits {
        Credits { envios: 100_000, whatsapp: 10_000, sms: 10_000 }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: &'static str,
    pub name: &'static str,
    pub users: Vec<User>,
    pub folders: Vec<Folder>,
    pub roles: Vec<Role>,
    pub credits: Credits,
    /// Start of the current subscription period.
    pub subscribed_at: DateTime<Utc>,
}

impl Account {
    pub fn seeded(credits: Credits, now: DateTime<Utc>) -> Account {
        let user = |id, name, email, status, sender| User { id, name, email, status, sender };
        let folder = |id, name, parent, deleted| Folder { id, name, parent, deleted };
        let role = |id, name, default| Role { id, name, default };
        Account {
            id: ACCOUNT_ID,
            name: "Signbridge Sandbox Ltda",
            users: vec![
                user(
                    DEFAULT_RESPONSIBLE_ID,
                    "Remetente Sandbox",
                    "remetente@signbridge.test",
                    UserStatus::Active,
                    true,
                ),
                user(
                    INACTIVE_USER_ID,
                    "Usuário Inativo",
                    "inativo@signbridge.test",
                    UserStatus::Inactive,
                    true,
                ),
                user(
                    BLOCKED_USER_ID,
                    "Usuário Bloqueado",
                    "bloqueado@signbridge.test",
                    UserStatus::Blocked,
                    false,
                ),
            ],
            folders: vec![
                folder(ROOT_FOLDER_ID, "Arquivar", None, false),
                folder(ADMINISTRATION_FOLDER_ID, "Administração", Some(ROOT_FOLDER_ID), false),
                folder(DEFAULT_FOLDER_ID, "Contratos", Some(ADMINISTRATION_FOLDER_ID), false),
                folder(HR_FOLDER_ID, "Recursos Humanos", Some(ROOT_FOLDER_ID), false),
                folder(DELETED_FOLDER_ID, "Arquivo morto", Some(ROOT_FOLDER_ID), true),
            ],
            roles: vec![
                role("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a80", "Assinar", true),
                role("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a81", "Testemunha", true),
                role("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a82", "Contratante", false),
                role("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a83", "Contratada", false),
                role("5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a84", "Representante Legal", false),
            ],
            credits,
            subscribed_at: now,
        }
    }

    /// A user by id (any casing).
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id.eq_ignore_ascii_case(id))
    }

    /// A folder by id (any casing), deleted ones included.
    pub fn folder(&self, id: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id.eq_ignore_ascii_case(id))
    }

    pub fn root(&self) -> &Folder {
        // The seed always has exactly one root; falling back to the first folder keeps this
        // total anyway.
        self.folders.iter().find(|f| f.parent.is_none()).unwrap_or(&self.folders[0])
    }

    /// Folder names from the root down to `folder`.
    pub fn path(&self, folder: &Folder) -> Vec<&'static str> {
        let mut names = vec![folder.name];
        let mut parent = folder.parent;
        // The seed has no cycles; the bound only guards against a future mistake in it.
        while let Some(id) = parent.filter(|_| names.len() <= self.folders.len()) {
            let Some(up) = self.folder(id) else { break };
            names.push(up.name);
            parent = up.parent;
        }
        names.reverse();
        names
    }

    /// Direct children of `folder`, sorted by name.
    pub fn children(&self, folder: &Folder) -> Vec<&Folder> {
        let mut children: Vec<&Folder> =
            self.folders.iter().filter(|f| f.parent == Some(folder.id)).collect();
        children.sort_by(|a, b| a.name.cmp(b.name));
        children
    }

    /// Whether a signer role exists, ignoring case and extra spaces (contract §2.1).
    pub fn has_role(&self, name: &str) -> bool {
        let wanted = squash(name);
        self.roles.iter().any(|r| squash(r.name) == wanted)
    }
}

/// Lowercase, with runs of whitespace collapsed to one space and none at the ends.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account::seeded(Credits::default(), Utc::now())
    }

    #[test]
    fn folders_form_a_tree_with_paths() {
        let account = account();
        let default = account.folder(&DEFAULT_FOLDER_ID.to_uppercase()).unwrap();
        assert_eq!(account.path(default), ["Arquivar", "Administração", "Contratos"]);
        let children: Vec<_> = account.children(account.root()).iter().map(|f| f.name).collect();
        assert_eq!(children, ["Administração", "Arquivo morto", "Recursos Humanos"]);
        assert!(account.folder(DELETED_FOLDER_ID).unwrap().deleted);
    }

    #[test]
    fn roles_match_ignoring_case_and_spaces() {
        let account = account();
        assert!(account.has_role("  representante   LEGAL "));
        assert!(!account.has_role("Fiador"));
    }
}
