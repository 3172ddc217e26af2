# Sentences written in Rust (error pages, notices, form errors, scope descriptions). Rust
# code keeps them in English and the pages look them up by that text (`i18n::text`), so the
# English value here must be exactly the text in the code.

## Error pages
msg-not-found-title = Page not found
msg-not-found = There is nothing at this address.
msg-method-title = Method not allowed
msg-method = This page cannot be used that way.
msg-headers-title = Request headers too large
msg-headers = The request carried more headers than this server reads.
msg-form-expired-title = This form has expired
msg-form-expired = Reload the page and try again.
msg-internal-title = Something went wrong
msg-internal = The server could not complete this request. Please try again.
msg-bad-request-title = Bad request
msg-form-unreadable = The form could not be read.
msg-upstream-title = Sign-in with the provider failed
msg-upstream-unavailable = The provider cannot be reached right now. Try again in a moment, or sign in another way.
msg-upstream-exchange = The provider did not complete the sign-in. Start again from the sign-in page.
msg-upstream-id-token = The provider's answer could not be verified, so it was not used. Start again from the sign-in page.
msg-authorize-title = This sign-in request cannot be used
msg-authorize-form = The request must be a form.
msg-session-ended = Your session has ended. Start again from the application.
msg-choose-allow-deny = Choose Allow or Deny.
msg-logout-title = This sign-out request cannot be used
msg-mfa-unavailable-title = Two-step sign-in is unavailable
msg-mfa-unavailable = This server cannot check authenticator codes yet: its operator has to set PORTCULLIS_ENCRYPTION_KEYS.

## Sign-in and sign-up
msg-too-many-attempts = Too many attempts. Wait a minute and try again.
msg-unverified = Your email address is not verified yet. Follow the link we sent you, then sign in.
msg-wrong-credentials = The email or password is wrong.
msg-too-many-signups = Too many sign-ups from your network. Wait a minute and try again.
msg-signup-by-invite = Accounts here are made by invitation: ask an administrator of your organization to invite you, then follow the invite.
msg-signup-closed = Sign-up is closed on this server: an administrator makes accounts.
msg-signup-not-open = Sign-up is not open on this server.
msg-signup-domain = Sign-up is not open to this email domain.
msg-email-taken = An account with this email exists already.
msg-email-invalid = Email is not an email address.
msg-password-short = Password must be at least 8 characters.
msg-password-long = Password must be at most 1024 bytes.
msg-code-wrong = The code is wrong, or was used already. Try the next one.

## Notices after a redirect
msg-notice-password-reset = Your password was changed. Sign in with the new one.
msg-notice-email-verified = Your email address is verified.
msg-notice-email-changed = Your email address was changed.
msg-notice-account-deleted = Your account was deleted.
msg-notice-name-saved = Your name was saved.
msg-notice-password-changed = Your password was changed; every other place you were signed in is signed out.
msg-notice-email-sent = We sent a link to the new address. Follow it to make it your account's.
msg-notice-verification-sent = We sent a new verification link to your address.
msg-notice-invite-accepted = You joined the organization.
msg-notice-passkey-added = Your passkey was added. You can sign in with it alone.
msg-notice-passkey-renamed = The passkey was renamed.
msg-notice-passkey-removed = The passkey was removed; it signs in no more.
msg-notice-upstream-linked = The identity is linked: you can sign in with it.
msg-notice-upstream-unlinked = The identity is unlinked.
msg-notice-totp-removed = The authenticator app is removed: signing in asks for your password alone.

## Connecting a device (`/device`)
msg-device-wrong-code = That code is not valid, or it has expired. Check the code your device shows.
msg-device-too-many = Too many wrong codes. Wait a minute and try again.
msg-device-connected-title = Device connected
msg-device-connected = You allowed the device. You can close this page and return to your device.
msg-device-denied-title = Request denied
msg-device-denied = You denied the request. The device gets no access.

## What a scope lets an application do (consent page)
msg-scope-openid = Know who you are (your account id)
msg-scope-profile = See your name
msg-scope-email = See your email address and whether it is verified
msg-scope-offline = Stay connected when you are not using it

## Labels in lists (account page)
label-unknown-address = unknown address
label-session = { $browser } · { $ip } · signed in { $when }
label-passkey-used = added { $added } · last used { $used }
label-passkey-unused = added { $added } · never used

## Second factors, keys, links and invitations
msg-why-enrol = Your account needs a second step to sign in here.
msg-mfa-expired-title = This sign-in has expired
msg-mfa-expired = Too much time passed, or too many wrong codes were tried. Sign in again.
msg-password-wrong = The password is wrong.
msg-totp-wrong = The code is wrong. Check the app's clock, and enter the code it shows now.
msg-totp-on-already = An authenticator app is on already.
msg-totp-none = No authenticator app is set up.
msg-totp-unavailable = Authenticator apps are not available on this server yet: its operator has to set PORTCULLIS_ENCRYPTION_KEYS.
msg-totp-on = Two-step sign-in is on.
msg-new-codes = New recovery codes: the old ones no longer work.
msg-sign-in-expired = This sign-in has expired. Sign in again.
msg-no-passkey = This account has no passkey: enter a code instead.
msg-passkey-failed = That passkey did not verify. Try again, or enter a code.
msg-not-member = You are not a member of this organization.
msg-not-your-org = Not your organization
msg-key-revoked = revoked
msg-key-expired = expired
msg-key-in-use = in use
msg-key-never-used = never used
msg-check-email-title = Check your email
msg-link-broken-title = This link does not work
msg-link-expired = This link has expired. Ask for a new one.
msg-link-invalid = This link is not valid: it was used already, replaced by a newer one, or is incomplete.
msg-link-address-taken = Another account has this address now, so yours cannot move to it.
msg-email-verified-title = Email address verified
msg-too-many-attempts-title = Too many attempts
msg-wait-minute = Wait a minute and try again.
msg-resend-sent = If an account with this address is waiting for verification, a new link is on its way.
msg-passwords-differ = The two passwords differ.
msg-address-taken = Another account has this address.
msg-last-owner = You are the last owner of an organization with other members: make one of them an owner first.
msg-verified-already = Your address is verified already.
msg-link-sign-in = Sign in
msg-link-account = Go to your account
msg-link-new-link = Ask for a new link
msg-invite-broken-title = This invitation does not work
msg-invite-unknown = This invitation does not exist, or the link is incomplete.
msg-invite-accepted = This invitation was accepted already.
msg-invite-expired = This invitation has expired: ask whoever invited you for a new one.
msg-invite-other-address = This invitation is for another email address.
msg-invite-has-account-title = There is an account for this address
msg-invite-sign-in = Sign in, then open the invitation link again to accept it.

## Sentences with one value inside (found by the text around the value)
msg-verified-address = { $email } is your account's verified address.
msg-mail-wait = We sent a message a moment ago. Try again in { $seconds } seconds.
msg-scope-other = Use the permission “{ $scope }”

## Form errors of the account rules (`accounts`)
msg-field-email-invalid = The email is not an email address.
msg-field-password-short = The password must be at least 8 characters.
msg-field-password-long = The password must be at most 1024 bytes.
msg-field-name = The name must be 1 to 100 printable characters.
msg-field-organization = The organization must be 1 to 100 printable characters.
