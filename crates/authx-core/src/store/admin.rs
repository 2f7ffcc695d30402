//! What the admin and search routers need of storage: bans, permission changes, the blackout
//! record, and users as an admin sees them (one user's details, and search).
//!
//! Every write is one conditional statement, so two admins acting on one user at once both
//! take effect (two ban toggles cancel out, two permissions added are both kept) and a ban
//! given while an expired one is being lifted stays.

use async_trait::async_trait;

use super::{StoreResult, UserId};
use crate::clock::Timestamp;

/// A ban to give, if [`AdminStore::toggle_ban`] finds the user not banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBan {
    /// Why, as the admin wrote it.
    pub reason: Option<String>,
    /// When it lifts itself; `None` for a ban that lasts until an admin lifts it.
    pub expires_at: Option<Timestamp>,
}

/// What [`AdminStore::toggle_ban`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanToggle {
    /// The user was not banned and now is.
    Banned,
    /// The user was banned and no longer is.
    Unbanned,
}

/// A user under a ban in force, as the blacklist shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannedUser {
    /// Its id.
    pub id: UserId,
    /// Its username.
    pub username: String,
    /// Why it was banned, if the admin said.
    pub reason: Option<String>,
    /// When it was banned; `None` for a ban written by other means (an older version, SQL).
    pub banned_at: Option<Timestamp>,
    /// When the ban lifts itself, if it does.
    pub expires_at: Option<Timestamp>,
}

/// A change to a user's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionChange {
    /// Adds the permission unless the user holds it.
    Add(String),
    /// Removes the permission if the user holds it.
    Remove(String),
    /// Removes every permission.
    Clear,
}

/// A user as an admin sees it: everything but secrets. No hash, token or second-factor secret
/// is ever part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetails {
    /// Its id.
    pub id: UserId,
    /// Its username.
    pub username: String,
    /// Its email.
    pub email: String,
    /// `false` while a ban is in force (a ban past its expiry counts as lifted).
    pub active: bool,
    /// Whether the email is confirmed.
    pub confirmed: bool,
    /// Its permissions.
    pub permissions: Vec<String>,
    /// The names of the social providers linked to it, sorted, each once.
    pub providers: Vec<String>,
    /// Whether it has a password (accounts made by social login may not).
    pub has_password: bool,
    /// Whether a second factor is enabled (never, until second factors are stored).
    pub two_factor: bool,
    /// When it registered.
    pub created_at: Timestamp,
    /// When it last logged in.
    pub last_login: Option<Timestamp>,
}

/// What to search users by. Every criterion given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSearch {
    /// The id, exactly.
    pub id: Option<UserId>,
    /// A substring of the username, taken literally (no character is a wildcard) and compared
    /// without regard to case.
    pub username: Option<String>,
    /// A substring of the email, taken literally and compared without regard to case.
    pub email: Option<String>,
    /// Matches to skip, in id order.
    pub offset: u64,
    /// Matches to return at most.
    pub limit: u32,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// How many users match in all.
    pub total: u64,
    /// The page's users, by id.
    pub users: Vec<UserDetails>,
}

/// What the admin and search routers need of storage.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Toggles the ban of user `id` in one conditional write: a user under a ban in force at
    /// `now` is unbanned (active, the ban's reason and instants cleared); any other user is
    /// banned (inactive, with `ban`, banned at `now`). A ban past its expiry counts as lifted,
    /// so toggling it bans again. Of concurrent toggles each sees the state the previous one
    /// left: two cancel out. `Ok(None)` when the user does not exist.
    async fn toggle_ban(
        &self,
        id: UserId,
        ban: NewBan,
        now: Timestamp,
    ) -> StoreResult<Option<BanToggle>>;
    /// Lifts the ban of user `id` if it expires at or before `now`, in one conditional write,
    /// so a ban given meanwhile (another expiry, or none) stays. Returns whether it lifted one.
    async fn lift_expired_ban(&self, id: UserId, now: Timestamp) -> StoreResult<bool>;
    /// The users under a ban in force at `now`, by id.
    async fn banned_users(&self, now: Timestamp) -> StoreResult<Vec<BannedUser>>;
    /// Changes the permissions of user `id` in one write computed from the stored value, so
    /// concurrent changes are never lost. Returns the permissions after it, or `Ok(None)` when
    /// the user does not exist.
    async fn change_permissions(
        &self,
        id: UserId,
        change: PermissionChange,
    ) -> StoreResult<Option<Vec<String>>>;
    /// User `id` as an admin sees it at `now`.
    async fn user_details(&self, id: UserId, now: Timestamp) -> StoreResult<Option<UserDetails>>;
    /// The page of users matching `search` at `now`, by id, and how many match in all.
    async fn search_users(&self, search: &UserSearch, now: Timestamp) -> StoreResult<UserPage>;
    /// Records that an admin logged everyone out at `at`, replacing an earlier record. This is
    /// only what admins see: the sessions end by the global cut-off, which this never touches.
    async fn set_blackout(&self, at: Timestamp) -> StoreResult<()>;
    /// When the recorded blackout happened, if one is recorded.
    async fn blackout(&self) -> StoreResult<Option<Timestamp>>;
    /// Removes the blackout record (not the cut-off: sessions it ended stay ended). Returns
    /// whether there was one.
    async fn delete_blackout(&self) -> StoreResult<bool>;
}
