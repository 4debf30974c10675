//! The links area: what the holder of an invitation link can do (preview,
//! accept, decline, opt out).

use super::*;

/// What a link holder may see before answering.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPreview {
    /// The invitation as it reads now (never show its `custom_data`).
    pub invitation: Invitation,
    /// The sending business.
    pub sender: Business,
    /// The sending user, if still there.
    pub sender_user: Option<User>,
    /// Whether the invited email already belongs to a user (then accepting
    /// needs no `business_name`).
    pub invitee_known: bool,
}

/// What an opt-out did.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOut {
    /// The suppression now standing (the earlier one when the same opt-out
    /// was already recorded).
    pub suppression: Suppression,
    /// The invitation of the link, as it reads after the opt-out.
    pub invitation: Invitation,
    /// Whether this opt-out declined the invitation (it was pending).
    pub declined: bool,
}

/// Input of [`App::accept_link`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcceptLinkInput {
    /// Required when the invited email has no user yet: the name of the
    /// business to create.
    pub business_name: Option<String>,
    /// The new user's first name.
    pub first_name: Option<String>,
    /// The new user's last name.
    pub last_name: Option<String>,
}

impl App {
    pub(crate) async fn invitation_by_link(&self, token: &str) -> Result<Invitation, AppError> {
        let hash = self.ports.secrets.hash(token);
        self.ports
            .store
            .invitations()
            .find_invitation_by_link(&hash)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The sending business of `invitation`, unless it is suspended (its
    /// links then answer nothing).
    pub(crate) async fn active_sender(&self, invitation: &Invitation) -> Result<Business, AppError> {
        self.active_link_business(invitation.business_id()).await
    }

    /// The business behind a link (an invitation's or a join link's),
    /// unless it is suspended: [`AppError::SenderSuspended`] then.
    pub(crate) async fn active_link_business(&self, id: BusinessId) -> Result<Business, AppError> {
        let business = self
            .ports
            .store
            .operator()
            .get_business(id)
            .await?
            .ok_or(AppError::NotFound)?;
        if business.is_suspended() {
            return Err(AppError::SenderSuspended);
        }
        Ok(business)
    }

    /// What the holder of a link sees: sender's name, message, status, expiry.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token;
    /// [`AppError::SenderSuspended`] when the sender is suspended.
    pub async fn preview_link(&self, token: &str) -> Result<LinkPreview, AppError> {
        let invitation = self.invitation_by_link(token).await?.as_of(self.now());
        let sender = self.active_sender(&invitation).await?;
        let invitee_known = self
            .ports
            .store
            .operator()
            .find_user_by_email(invitation.email())
            .await?
            .is_some();
        let sender_user = self
            .ports
            .store
            .operator()
            .get_user(invitation.sent_by_user_id())
            .await?;
        Ok(LinkPreview {
            invitation,
            sender,
            sender_user,
            invitee_known,
        })
    }

    /// Accepts by link. When the invited email has no user yet, creates the
    /// invitee's business (`business_name` required) and user with it, then
    /// connects the two businesses.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token;
    /// [`AppError::InvalidTransition`] unless pending;
    /// [`AppError::Validation`] for the body;
    /// [`AppError::SelfInvite`] when the email meanwhile joined the sender;
    /// [`AppError::SenderSuspended`] when the sender is suspended.
    pub async fn accept_link(&self, token: &str, input: AcceptLinkInput) -> Result<TransitionOutcome, AppError> {
        let invitation = self.invitation_by_link(token).await?;
        self.active_sender(&invitation).await?;
        let now = self.now();
        let current = invitation.status_at(now);
        if current.is_terminal() {
            return Err(AppError::InvalidTransition { current });
        }
        match self
            .ports
            .store
            .operator()
            .find_user_by_email(invitation.email())
            .await?
        {
            Some(user) if user.business_id == invitation.business_id() => Err(AppError::SelfInvite),
            Some(user) => {
                let actor = Actor::Invitee { user_id: Some(user.id) };
                self.transition(invitation, Action::Accept, actor, Some(user.business_id), None)
                    .await
            }
            None => {
                let mut errors = ValidationErrors::new();
                let name = match input.business_name.as_deref().filter(|n| !n.trim().is_empty()) {
                    Some(name) => errors.collect("business_name", BusinessName::parse(name)),
                    None => {
                        errors.push(FieldError::new(
                            "business_name",
                            "required",
                            "business_name is required: this email has no business yet",
                        ));
                        None
                    }
                };
                let first_name = optional_name(&mut errors, "first_name", input.first_name.as_deref());
                let last_name = optional_name(&mut errors, "last_name", input.last_name.as_deref());
                let (Some(name), true) = (name, errors.is_empty()) else {
                    return Err(AppError::Validation(errors));
                };
                let business = Business {
                    id: BusinessId::from_uuid(self.new_id()),
                    name,
                    created_at: now,
                    suspended_at: None,
                    external_id: None,
                };
                let user = self.user_from(
                    ValidUser {
                        email: invitation.email().clone(),
                        first_name,
                        last_name,
                        external_id: None,
                    },
                    business.id,
                    now,
                );
                let actor = Actor::Invitee { user_id: Some(user.id) };
                let business_id = business.id;
                self.transition(
                    invitation,
                    Action::Accept,
                    actor,
                    Some(business_id),
                    Some(NewInvitee { business, user }),
                )
                .await
            }
        }
    }

    /// Declines by link.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token;
    /// [`AppError::InvalidTransition`] unless pending;
    /// [`AppError::SenderSuspended`] when the sender is suspended.
    pub async fn decline_link(&self, token: &str) -> Result<Invitation, AppError> {
        let invitation = self.invitation_by_link(token).await?;
        self.active_sender(&invitation).await?;
        self.decline(invitation).await
    }

    /// Declines on behalf of the link's holder (the invited address).
    pub(crate) async fn decline(&self, invitation: Invitation) -> Result<Invitation, AppError> {
        let user = self
            .ports
            .store
            .operator()
            .find_user_by_email(invitation.email())
            .await?;
        let actor = Actor::Invitee {
            user_id: user.as_ref().map(|u| u.id),
        };
        let business = user.map(|u| u.business_id).filter(|b| *b != invitation.business_id());
        Ok(self
            .transition(invitation, Action::Reject, actor, business, None)
            .await?
            .invitation)
    }

    /// The recipient of a link opts out of further invitations from the
    /// link's sender (`OptOutScope::Business`) or from everyone: the
    /// invitation, if still pending, is declined (`invitation.rejected`, by
    /// the invitee), then the suppression is recorded. Both steps are
    /// idempotent, so repeating the opt-out (a retried one-click POST) is
    /// harmless, and a failure between them is mended by repeating it.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token.
    pub async fn opt_out(&self, token: &str, scope: OptOutScope) -> Result<OptOut, AppError> {
        let invitation = self.invitation_by_link(token).await?;
        let now = self.now();
        let mut declined = false;
        let mut current = invitation.clone();
        if invitation.is_pending_at(now) {
            match self.decline(invitation.clone()).await {
                Ok(after) => {
                    declined = true;
                    current = after;
                }
                // Answered, cancelled or expired meanwhile: the opt-out still stands.
                Err(AppError::InvalidTransition { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let suppression = Suppression {
            id: SuppressionId::from_uuid(self.new_id()),
            email: invitation.email().clone(),
            business_id: match scope {
                OptOutScope::Business => Some(invitation.business_id()),
                OptOutScope::Everyone => None,
            },
            invitation_id: Some(invitation.id()),
            created_at: now,
            reason: SuppressionReason::OptOut,
        };
        let suppression = self.ports.store.opt_outs().add_suppression(&suppression).await?;
        let invitation = match declined {
            true => current,
            false => self
                .ports
                .store
                .invitations()
                .get_invitation(invitation.id())
                .await?
                .unwrap_or(current)
                .as_of(now),
        };
        Ok(OptOut {
            suppression,
            invitation,
            declined,
        })
    }
}
