# The pages' own words (templates/*.html name these ids). Every id is in every language.

## Shared form fields
field-email = Email
field-password = Password
field-password-length = (at least 8 characters)
field-name = Name
field-your-name = Your name
field-choose-password = Choose a password
field-new-password = New password
field-new-password-again = New password, again

## Sign-in
login-title = Sign in
login-to-app = to continue to { $app }
login-app-unverified = Not verified by the operator
login-resend = Send the verification link again
login-submit = Sign in
login-or = or
login-passkey = Sign in with a passkey
login-or-upstream = Or
login-with-upstream = Sign in with { $provider }
login-forgot = Forgot your password?
login-no-account = No account yet?
login-create-one = Create one

## Consent
consent-title = Allow { $app }?
consent-heading = Allow { $app } to use your account?
consent-signed-in-as = Signed in as
consent-about = About this application:
consent-self-described = Self-described by { $host }: this application published its own description; the operator has not checked it.
consent-asks = { $app } asks to:
consent-at-resource = At { $resource }:
consent-allow = Allow
consent-deny = Deny
device-title = Connect a device
device-intro = Enter the code your device or command line shows.
device-code-label = Code
device-continue = Continue
device-compare = Check that your device shows this code:
device-compare-hint = If you did not start this on a device of your own just now, choose Deny.
device-resources = It will be able to use:

## Errors
error-status = Error { $status }

## Sign-up
signup-title = Create an account
signup-closed-title = Sign-up is not open
signup-domains = (at { $domains })
signup-submit = Create account
signup-have-account = Have an account?
signup-sign-in = Sign in

## Account chooser
choose-title = Choose an account
choose-another = Use another account

## Sign-out
logout-title = Sign out
logout-confirm-heading = Sign out?
logout-confirm = Do you want to sign out of { $brand }?
logout-confirm-return = Do you want to sign out of { $brand } and return to { $app }?
logout-leave-heading = Leave { $brand }?
logout-leave = You are not signed in. Do you want to go on to the application?
logout-leave-to = You are not signed in. Do you want to go on to { $app }?
logout-submit = Sign out
logout-continue = Continue
logout-done = You are signed out
logout-sign-in-again = Sign in again

## Password recovery
forgot-title = Forgot your password?
forgot-sent = If an account exists for that address, we have sent it a link to choose a new password. The link works once, for 30 minutes.
forgot-intro = Give the email address of your account; we will send it a link to choose a new password.
forgot-send-again = Send again
forgot-send = Send the link
forgot-back = Back to sign-in
reset-title = Choose a new password
reset-intro = For { $email }. Every place you are signed in will be signed out.
reset-submit = Set the password

## The form_post response mode
form-post-title = Returning to the application…

## Invitations
invite-title = Join { $org }
invite-intro = You are invited to join { $org }
invite-role = as { $role }.
invite-for = The invitation is for { $email }.
invite-accept = Accept and join { $org }
invite-other-account = You are signed in as { $user }.
invite-other-account-then = Sign out, then open the invitation link again to accept it as { $email }.
invite-has-account = There is an account for { $email }: sign in to accept.
invite-sign-in = Sign in to accept
invite-join = Create the account and join
field-your-password = Your password
field-current-password = Current password
field-optional = (optional)

## Account
account-title = Your account
account-verified = verified
account-not-verified = not verified
account-switch = Switch account
account-save-name = Save the name
account-email-heading = Email address
account-email-hint = We send a link to the new address; it becomes your account's when you follow it.
account-new-email = New email address
account-send-confirmation = Send the confirmation link
account-password-hint = Every other place you are signed in will be signed out.
account-change-password = Change the password
account-passkeys = Passkeys
account-passkeys-hint = Sign in with your fingerprint, face or device PIN instead of a password. Each passkey stays on the device or password manager that made it.
account-no-passkeys = You have no passkey yet.
account-passkey-new-name = New name for { $name }
account-passkey-rename-label = Rename passkey { $name }
account-passkey-remove-label = Remove passkey { $name }
account-rename = Rename
account-remove = Remove
account-passkey-reauth = To add a passkey, sign in again first (your sign-in is more than 10 minutes old):
account-passkey-name = Name of the new passkey
account-passkey-placeholder = e.g. Work laptop
account-passkey-add = Add a passkey
account-passkey-needs-js = Adding a passkey needs JavaScript.
account-mfa-hint = A code from an app on your phone after your password, so that a stolen password alone does not open your account.
account-mfa-link = Two-step sign-in and recovery codes
account-providers = Sign-in with other providers
account-no-password = Your account has no password: you sign in with a provider below. To set a password, use “Forgot your password?” on the sign-in page.
account-unlink-label = Unlink { $provider }
account-unlink = Unlink
account-link = Link { $provider }
account-orgs = Organizations
account-apps = Apps you allowed
account-no-apps = No application has access to your account.
account-revoke-app-label = Revoke access of { $app }
account-revoke = Revoke
account-actors = Agents that may act for you
account-actors-hint = An agent you allow here may exchange your sign-in for a short-lived token that names both of you (token exchange); it never holds more than you do.
account-no-actors = No agent may act for you.
account-revoke-actor-label = Withdraw { $actor }
account-sessions = Active sessions
account-this-browser = (this browser)
account-revoke-session-label = Revoke session { $session }
account-delete = Delete your account
account-delete-hint = Your account goes for good, with the organizations only you belong to (their API keys too). If you are the last owner of an organization with other members, make someone else an owner first.
account-delete-submit = Delete my account
keys-link = API keys

## Two-step sign-in
mfa-title = Two-step sign-in
mfa-enter-code = Enter your code
mfa-code-hint = Open your authenticator app and enter the six-digit code it shows for { $email }. Lost your phone? Enter one of your recovery codes instead.
mfa-code = Code
mfa-set-up = Set up two-step sign-in
mfa-scan = Scan this code with an authenticator app (Google Authenticator, 1Password, Aegis, …), then enter the six-digit code it shows.
mfa-qr-label = QR code of the key below, for an authenticator app
mfa-type-key = Or type this key into the app:
mfa-code-from-app = Code from the app
mfa-turn-on-continue = Turn on and continue
mfa-save-codes = Save your recovery codes
mfa-codes-hint = Two-step sign-in is on. If you lose your phone, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.
mfa-saved-continue = I have saved them: continue
mfa-use-passkey = Use a passkey
security-back = Back to your account
security-codes = Your recovery codes
security-codes-hint = Each signs you in once if you lose your phone. Keep them somewhere safe: they are shown only now.
security-on = An authenticator app is on: signing in asks for its code after your password.
security-codes-left = Recovery codes left:
security-new-codes = New recovery codes
security-make-codes = Make new recovery codes
security-turn-off = Turn off
security-remove = Remove the authenticator app
security-turn-on = Turn on
security-off = Two-step sign-in is off.
security-required = An organization you belong to requires it.
security-off-hint = With it on, signing in asks for a code from an app on your phone after your password.
security-set-up = Set up an authenticator app

## API keys
keys-title = API keys of { $org }
keys-new = Your new key.
keys-new-hint = Copy it now: it is shown only this once.
keys-select-hint = Click the key to select all of it, then copy it.
keys-revoke-label = Revoke key { $name }
keys-none = No keys yet.
keys-create-heading = Create a key
keys-scopes = Scopes
keys-create = Create key
