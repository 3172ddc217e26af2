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
consent-asks = { $app } asks to:
consent-allow = Allow
consent-deny = Deny

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
