# Die Wörter der Seiten (templates/*.html nennen diese IDs). Jede ID gibt es in jeder Sprache.

## Gemeinsame Formularfelder
field-email = E-Mail
field-password = Passwort
field-password-length = (mindestens 8 Zeichen)
field-name = Name
field-your-name = Ihr Name
field-choose-password = Wählen Sie ein Passwort
field-new-password = Neues Passwort
field-new-password-again = Neues Passwort, noch einmal

## Anmeldung
login-title = Anmelden
login-to-app = um mit { $app } fortzufahren
login-app-unverified = Nicht vom Betreiber geprüft
login-resend = Bestätigungslink erneut senden
login-submit = Anmelden
login-or = oder
login-passkey = Mit einem Passkey anmelden
login-or-upstream = Oder
login-with-upstream = Mit { $provider } anmelden
login-forgot = Passwort vergessen?
login-no-account = Noch kein Konto?
login-create-one = Konto erstellen

## Einwilligung
consent-title = { $app } erlauben?
consent-heading = Darf { $app } Ihr Konto verwenden?
consent-signed-in-as = Angemeldet als
consent-about = Über diese Anwendung:
consent-asks = { $app } möchte:
consent-allow = Erlauben
consent-deny = Ablehnen

## Fehler
error-status = Fehler { $status }

## Registrierung
signup-title = Konto erstellen
signup-closed-title = Die Registrierung ist nicht offen
signup-domains = (bei { $domains })
signup-submit = Konto erstellen
signup-have-account = Sie haben ein Konto?
signup-sign-in = Anmelden

## Kontoauswahl
choose-title = Konto auswählen
choose-another = Ein anderes Konto verwenden

## Abmeldung
logout-title = Abmelden
logout-confirm-heading = Abmelden?
logout-confirm = Möchten Sie sich von { $brand } abmelden?
logout-confirm-return = Möchten Sie sich von { $brand } abmelden und zu { $app } zurückkehren?
logout-leave-heading = { $brand } verlassen?
logout-leave = Sie sind nicht angemeldet. Möchten Sie zur Anwendung weitergehen?
logout-leave-to = Sie sind nicht angemeldet. Möchten Sie zu { $app } weitergehen?
logout-submit = Abmelden
logout-continue = Weiter
logout-done = Sie sind abgemeldet
logout-sign-in-again = Erneut anmelden

## Passwort vergessen
forgot-title = Passwort vergessen?
forgot-sent = Wenn es für diese Adresse ein Konto gibt, haben wir ihm einen Link geschickt, mit dem Sie ein neues Passwort wählen. Der Link gilt einmal, 30 Minuten lang.
forgot-intro = Geben Sie die E-Mail-Adresse Ihres Kontos an; wir schicken ihr einen Link, mit dem Sie ein neues Passwort wählen.
forgot-send-again = Erneut senden
forgot-send = Link senden
forgot-back = Zurück zur Anmeldung
reset-title = Neues Passwort wählen
reset-intro = Für { $email }. Sie werden überall abgemeldet, wo Sie angemeldet sind.
reset-submit = Passwort festlegen

## Antwortmodus form_post
form-post-title = Zurück zur Anwendung …

## Einladungen
invite-title = { $org } beitreten
invite-intro = Sie sind eingeladen, { $org } beizutreten,
invite-role = als { $role }.
invite-for = Die Einladung gilt für { $email }.
invite-accept = Annehmen und { $org } beitreten
invite-other-account = Sie sind als { $user } angemeldet.
invite-other-account-then = Melden Sie sich ab und öffnen Sie den Einladungslink erneut, um sie als { $email } anzunehmen.
invite-has-account = Für { $email } gibt es ein Konto: Melden Sie sich an, um anzunehmen.
invite-sign-in = Anmelden und annehmen
invite-join = Konto erstellen und beitreten
