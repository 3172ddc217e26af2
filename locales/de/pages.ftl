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
consent-self-described = Selbstbeschreibung von { $host }: Diese Anwendung hat ihre Beschreibung selbst veröffentlicht; der Betreiber hat sie nicht geprüft.
consent-asks = { $app } möchte:
consent-at-resource = Bei { $resource }:
consent-allow = Erlauben
consent-deny = Ablehnen
device-title = Gerät verbinden
device-intro = Geben Sie den Code ein, den Ihr Gerät oder Ihre Kommandozeile anzeigt.
device-code-label = Code
device-continue = Weiter
device-compare = Prüfen Sie, ob Ihr Gerät diesen Code anzeigt:
device-compare-hint = Wenn Sie das nicht gerade selbst auf einem eigenen Gerät begonnen haben, wählen Sie „Ablehnen“.
device-resources = Es wird Folgendes verwenden können:

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
field-your-password = Ihr Passwort
field-current-password = Aktuelles Passwort
field-optional = (optional)

## Konto
account-title = Ihr Konto
account-verified = bestätigt
account-not-verified = nicht bestätigt
account-switch = Konto wechseln
account-save-name = Namen speichern
account-email-heading = E-Mail-Adresse
account-email-hint = Wir schicken einen Link an die neue Adresse; sie wird zur Adresse Ihres Kontos, wenn Sie ihm folgen.
account-new-email = Neue E-Mail-Adresse
account-send-confirmation = Bestätigungslink senden
account-password-hint = Überall sonst, wo Sie angemeldet sind, werden Sie abgemeldet.
account-change-password = Passwort ändern
account-passkeys = Passkeys
account-passkeys-hint = Melden Sie sich mit Fingerabdruck, Gesicht oder Geräte-PIN statt mit einem Passwort an. Jeder Passkey bleibt auf dem Gerät oder im Passwortmanager, der ihn erzeugt hat.
account-no-passkeys = Sie haben noch keinen Passkey.
account-passkey-new-name = Neuer Name für { $name }
account-passkey-rename-label = Passkey { $name } umbenennen
account-passkey-remove-label = Passkey { $name } entfernen
account-rename = Umbenennen
account-remove = Entfernen
account-passkey-reauth = Um einen Passkey hinzuzufügen, melden Sie sich zuerst erneut an (Ihre Anmeldung ist älter als 10 Minuten):
account-passkey-name = Name des neuen Passkeys
account-passkey-placeholder = z. B. Arbeitslaptop
account-passkey-add = Passkey hinzufügen
account-passkey-needs-js = Zum Hinzufügen eines Passkeys wird JavaScript benötigt.
account-mfa-hint = Nach dem Passwort ein Code aus einer App auf Ihrem Telefon, damit ein gestohlenes Passwort allein Ihr Konto nicht öffnet.
account-mfa-link = Anmeldung in zwei Schritten und Wiederherstellungscodes
account-providers = Anmeldung über andere Anbieter
account-no-password = Ihr Konto hat kein Passwort: Sie melden sich über einen Anbieter unten an. Um ein Passwort festzulegen, verwenden Sie „Passwort vergessen?“ auf der Anmeldeseite.
account-unlink-label = Verknüpfung mit { $provider } aufheben
account-unlink = Verknüpfung aufheben
account-link = Mit { $provider } verknüpfen
account-orgs = Organisationen
account-apps = Anwendungen, denen Sie Zugriff erlaubt haben
account-no-apps = Keine Anwendung hat Zugriff auf Ihr Konto.
account-revoke-app-label = Zugriff von { $app } widerrufen
account-revoke = Widerrufen
account-actors = Agenten, die für Sie handeln dürfen
account-actors-hint = Ein Agent, den Sie hier erlauben, darf Ihre Anmeldung gegen ein kurzlebiges Token tauschen, das Sie beide nennt (Token-Austausch); er hat nie mehr Rechte als Sie.
account-no-actors = Kein Agent darf für Sie handeln.
account-revoke-actor-label = { $actor } entziehen
account-sessions = Aktive Sitzungen
account-this-browser = (dieser Browser)
account-revoke-session-label = Sitzung { $session } widerrufen
account-delete = Konto löschen
account-delete-hint = Ihr Konto wird endgültig gelöscht, mit den Organisationen, denen nur Sie angehören (auch deren API-Schlüsseln). Wenn Sie der letzte Eigentümer einer Organisation mit weiteren Mitgliedern sind, machen Sie zuerst jemand anderen zum Eigentümer.
account-delete-submit = Mein Konto löschen
keys-link = API-Schlüssel

## Anmeldung in zwei Schritten
mfa-title = Anmeldung in zwei Schritten
mfa-enter-code = Code eingeben
mfa-code-hint = Öffnen Sie Ihre Authenticator-App und geben Sie den sechsstelligen Code ein, den sie für { $email } zeigt. Telefon verloren? Geben Sie stattdessen einen Ihrer Wiederherstellungscodes ein.
mfa-code = Code
mfa-set-up = Anmeldung in zwei Schritten einrichten
mfa-scan = Scannen Sie diesen Code mit einer Authenticator-App (Google Authenticator, 1Password, Aegis, …) und geben Sie dann den sechsstelligen Code ein, den sie zeigt.
mfa-qr-label = QR-Code des Schlüssels unten, für eine Authenticator-App
mfa-type-key = Oder tippen Sie diesen Schlüssel in die App:
mfa-code-from-app = Code aus der App
mfa-turn-on-continue = Einschalten und weiter
mfa-save-codes = Wiederherstellungscodes sichern
mfa-codes-hint = Die Anmeldung in zwei Schritten ist eingeschaltet. Wenn Sie Ihr Telefon verlieren, meldet Sie jeder dieser Codes einmal an. Bewahren Sie sie sicher auf: Sie werden nur jetzt angezeigt.
mfa-saved-continue = Ich habe sie gesichert: weiter
mfa-use-passkey = Einen Passkey verwenden
security-back = Zurück zu Ihrem Konto
security-codes = Ihre Wiederherstellungscodes
security-codes-hint = Jeder meldet Sie einmal an, wenn Sie Ihr Telefon verlieren. Bewahren Sie sie sicher auf: Sie werden nur jetzt angezeigt.
security-on = Eine Authenticator-App ist eingerichtet: Die Anmeldung fragt nach dem Passwort nach ihrem Code.
security-codes-left = Verbleibende Wiederherstellungscodes:
security-new-codes = Neue Wiederherstellungscodes
security-make-codes = Neue Wiederherstellungscodes erzeugen
security-turn-off = Ausschalten
security-remove = Authenticator-App entfernen
security-turn-on = Einschalten
security-off = Die Anmeldung in zwei Schritten ist ausgeschaltet.
security-required = Eine Organisation, der Sie angehören, verlangt sie.
security-off-hint = Wenn sie eingeschaltet ist, fragt die Anmeldung nach dem Passwort nach einem Code aus einer App auf Ihrem Telefon.
security-set-up = Authenticator-App einrichten

## API-Schlüssel
keys-title = API-Schlüssel von { $org }
keys-new = Ihr neuer Schlüssel.
keys-new-hint = Kopieren Sie ihn jetzt: Er wird nur dieses eine Mal angezeigt.
keys-select-hint = Klicken Sie auf den Schlüssel, um ihn ganz auszuwählen, und kopieren Sie ihn dann.
keys-revoke-label = Schlüssel { $name } widerrufen
keys-none = Noch keine Schlüssel.
keys-create-heading = Schlüssel erstellen
keys-scopes = Berechtigungen
keys-create = Schlüssel erstellen
