use domain::{Role, Roles, UserId};

/// Who is asking, as proven by a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The account's id (the token's `sub`).
    pub user_id: UserId,
    /// The account's roles (the token's `realm_access.roles` this shop knows).
    pub roles: Roles,
}

impl Actor {
    /// Whether the actor may act on the whole shop.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// Whether the actor may see and act on what belongs to `owner`: their own, or anyone's
    /// for an admin.
    pub fn may_act_for(&self, owner: UserId) -> bool {
        self.user_id == owner || self.is_admin()
    }

    /// Refuses non-admins.
    ///
    /// # Errors
    /// `AppError::Forbidden` unless the actor is an admin.
    pub fn require_admin(&self) -> Result<(), crate::AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(crate::AppError::Forbidden)
        }
    }
}
