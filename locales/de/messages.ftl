# In Rust geschriebene Sätze (Fehlerseiten, Hinweise, Formularfehler, Berechtigungen). Die
# Seiten finden sie über ihren englischen Text (`i18n::text`).

## Fehlerseiten
msg-not-found-title = Seite nicht gefunden
msg-not-found = Unter dieser Adresse gibt es nichts.
msg-method-title = Methode nicht erlaubt
msg-method = Diese Seite kann so nicht verwendet werden.
msg-headers-title = Anfrage-Header zu groß
msg-headers = Die Anfrage enthielt mehr Header, als dieser Server liest.
msg-form-expired-title = Dieses Formular ist abgelaufen
msg-form-expired = Laden Sie die Seite neu und versuchen Sie es noch einmal.
msg-internal-title = Etwas ist schiefgegangen
msg-internal = Der Server konnte diese Anfrage nicht abschließen. Bitte versuchen Sie es noch einmal.
msg-bad-request-title = Ungültige Anfrage
msg-form-unreadable = Das Formular konnte nicht gelesen werden.
msg-upstream-title = Die Anmeldung beim Anbieter ist fehlgeschlagen
msg-upstream-unavailable = Der Anbieter ist gerade nicht erreichbar. Versuchen Sie es gleich noch einmal oder melden Sie sich anders an.
msg-upstream-exchange = Der Anbieter hat die Anmeldung nicht abgeschlossen. Beginnen Sie noch einmal auf der Anmeldeseite.
msg-upstream-id-token = Die Antwort des Anbieters ließ sich nicht prüfen und wurde daher nicht verwendet. Beginnen Sie noch einmal auf der Anmeldeseite.
msg-authorize-title = Diese Anmeldeanfrage kann nicht verwendet werden
msg-authorize-form = Die Anfrage muss ein Formular sein.
msg-session-ended = Ihre Sitzung ist beendet. Beginnen Sie noch einmal in der Anwendung.
msg-choose-allow-deny = Wählen Sie „Erlauben“ oder „Ablehnen“.
msg-logout-title = Diese Abmeldeanfrage kann nicht verwendet werden
msg-mfa-unavailable-title = Die Anmeldung in zwei Schritten ist nicht verfügbar
msg-mfa-unavailable = Dieser Server kann noch keine Codes prüfen: Der Betreiber muss PORTCULLIS_ENCRYPTION_KEYS setzen.

## Anmeldung und Registrierung
msg-too-many-attempts = Zu viele Versuche. Warten Sie eine Minute und versuchen Sie es noch einmal.
msg-unverified = Ihre E-Mail-Adresse ist noch nicht bestätigt. Folgen Sie dem Link, den wir Ihnen geschickt haben, und melden Sie sich dann an.
msg-wrong-credentials = E-Mail oder Passwort ist falsch.
msg-too-many-signups = Zu viele Registrierungen aus Ihrem Netz. Warten Sie eine Minute und versuchen Sie es noch einmal.
msg-signup-by-invite = Konten werden hier auf Einladung angelegt: Bitten Sie eine Administratorin oder einen Administrator Ihrer Organisation um eine Einladung und folgen Sie ihr.
msg-signup-closed = Die Registrierung ist auf diesem Server geschlossen: Konten legt die Administration an.
msg-signup-not-open = Die Registrierung ist auf diesem Server nicht offen.
msg-signup-domain = Die Registrierung ist für diese E-Mail-Domain nicht offen.
msg-email-taken = Ein Konto mit dieser E-Mail-Adresse gibt es schon.
msg-email-invalid = Die E-Mail-Adresse ist keine gültige Adresse.
msg-password-short = Das Passwort muss mindestens 8 Zeichen lang sein.
msg-password-long = Das Passwort darf höchstens 1024 Bytes lang sein.
msg-code-wrong = Der Code ist falsch oder wurde schon verwendet. Versuchen Sie den nächsten.

## Hinweise nach einer Weiterleitung
msg-notice-password-reset = Ihr Passwort wurde geändert. Melden Sie sich mit dem neuen an.
msg-notice-email-verified = Ihre E-Mail-Adresse ist bestätigt.
msg-notice-email-changed = Ihre E-Mail-Adresse wurde geändert.
msg-notice-account-deleted = Ihr Konto wurde gelöscht.
msg-notice-name-saved = Ihr Name wurde gespeichert.
msg-notice-password-changed = Ihr Passwort wurde geändert; überall sonst, wo Sie angemeldet waren, sind Sie nun abgemeldet.
msg-notice-email-sent = Wir haben einen Link an die neue Adresse geschickt. Folgen Sie ihm, um sie zur Adresse Ihres Kontos zu machen.
msg-notice-verification-sent = Wir haben einen neuen Bestätigungslink an Ihre Adresse geschickt.
msg-notice-invite-accepted = Sie sind der Organisation beigetreten.
msg-notice-passkey-added = Ihr Passkey wurde hinzugefügt. Sie können sich allein mit ihm anmelden.
msg-notice-passkey-renamed = Der Passkey wurde umbenannt.
msg-notice-passkey-removed = Der Passkey wurde entfernt; er meldet nicht mehr an.
msg-notice-upstream-linked = Die Identität ist verknüpft: Sie können sich mit ihr anmelden.
msg-notice-upstream-unlinked = Die Verknüpfung der Identität ist aufgehoben.
msg-notice-totp-removed = Die Authenticator-App ist entfernt: Die Anmeldung fragt nur noch nach Ihrem Passwort.

## Ein Gerät verbinden (`/device`)
msg-device-wrong-code = Dieser Code ist ungültig oder abgelaufen. Prüfen Sie den Code, den Ihr Gerät anzeigt.
msg-device-too-many = Zu viele falsche Codes. Warten Sie eine Minute und versuchen Sie es noch einmal.
msg-device-connected-title = Gerät verbunden
msg-device-connected = Sie haben das Gerät zugelassen. Sie können diese Seite schließen und zu Ihrem Gerät zurückkehren.
msg-device-denied-title = Anfrage abgelehnt
msg-device-denied = Sie haben die Anfrage abgelehnt. Das Gerät erhält keinen Zugriff.

## Was eine Berechtigung einer Anwendung erlaubt (Einwilligungsseite)
msg-scope-openid = Wissen, wer Sie sind (Ihre Konto-ID)
msg-scope-profile = Ihren Namen sehen
msg-scope-email = Ihre E-Mail-Adresse sehen und ob sie bestätigt ist
msg-scope-offline = Verbunden bleiben, wenn Sie sie nicht verwenden

## Beschriftungen in Listen (Kontoseite)
label-unknown-address = unbekannte Adresse
label-session = { $browser } · { $ip } · angemeldet am { $when }
label-passkey-used = hinzugefügt am { $added } · zuletzt verwendet am { $used }
label-passkey-unused = hinzugefügt am { $added } · nie verwendet

## Zweiter Faktor, Schlüssel, Links und Einladungen
msg-why-enrol = Ihr Konto braucht hier einen zweiten Schritt zur Anmeldung.
msg-mfa-expired-title = Diese Anmeldung ist abgelaufen
msg-mfa-expired = Es ist zu viel Zeit vergangen, oder es wurden zu viele falsche Codes versucht. Melden Sie sich erneut an.
msg-password-wrong = Das Passwort ist falsch.
msg-totp-wrong = Der Code ist falsch. Prüfen Sie die Uhr der App und geben Sie den Code ein, den sie jetzt zeigt.
msg-totp-on-already = Eine Authenticator-App ist schon eingerichtet.
msg-totp-none = Es ist keine Authenticator-App eingerichtet.
msg-totp-unavailable = Authenticator-Apps sind auf diesem Server noch nicht verfügbar: Der Betreiber muss PORTCULLIS_ENCRYPTION_KEYS setzen.
msg-totp-on = Die Anmeldung in zwei Schritten ist eingeschaltet.
msg-new-codes = Neue Wiederherstellungscodes: Die alten gelten nicht mehr.
msg-sign-in-expired = Diese Anmeldung ist abgelaufen. Melden Sie sich erneut an.
msg-no-passkey = Dieses Konto hat keinen Passkey: Geben Sie stattdessen einen Code ein.
msg-passkey-failed = Dieser Passkey wurde nicht bestätigt. Versuchen Sie es noch einmal oder geben Sie einen Code ein.
msg-not-member = Sie sind kein Mitglied dieser Organisation.
msg-not-your-org = Nicht Ihre Organisation
msg-key-revoked = widerrufen
msg-key-expired = abgelaufen
msg-key-in-use = in Gebrauch
msg-key-never-used = nie verwendet
msg-check-email-title = Sehen Sie in Ihr Postfach
msg-link-broken-title = Dieser Link funktioniert nicht
msg-link-expired = Dieser Link ist abgelaufen. Fordern Sie einen neuen an.
msg-link-invalid = Dieser Link ist ungültig: Er wurde schon verwendet, durch einen neueren ersetzt oder ist unvollständig.
msg-link-address-taken = Ein anderes Konto hat diese Adresse inzwischen, daher kann Ihres sie nicht übernehmen.
msg-email-verified-title = E-Mail-Adresse bestätigt
msg-too-many-attempts-title = Zu viele Versuche
msg-wait-minute = Warten Sie eine Minute und versuchen Sie es noch einmal.
msg-resend-sent = Wenn ein Konto mit dieser Adresse auf Bestätigung wartet, ist ein neuer Link unterwegs.
msg-passwords-differ = Die beiden Passwörter unterscheiden sich.
msg-address-taken = Ein anderes Konto hat diese Adresse.
msg-last-owner = Sie sind der letzte Eigentümer einer Organisation mit weiteren Mitgliedern: Machen Sie zuerst jemanden von ihnen zum Eigentümer.
msg-verified-already = Ihre Adresse ist schon bestätigt.
msg-link-sign-in = Anmelden
msg-link-account = Zu Ihrem Konto
msg-link-new-link = Einen neuen Link anfordern
msg-invite-broken-title = Diese Einladung funktioniert nicht
msg-invite-unknown = Diese Einladung gibt es nicht, oder der Link ist unvollständig.
msg-invite-accepted = Diese Einladung wurde schon angenommen.
msg-invite-expired = Diese Einladung ist abgelaufen: Bitten Sie die einladende Person um eine neue.
msg-invite-other-address = Diese Einladung gilt für eine andere E-Mail-Adresse.
msg-invite-has-account-title = Für diese Adresse gibt es ein Konto
msg-invite-sign-in = Melden Sie sich an und öffnen Sie den Einladungslink dann erneut, um sie anzunehmen.

## Sentences with one value inside (found by the text around the value)
msg-verified-address = { $email } ist die bestätigte Adresse Ihres Kontos.
msg-mail-wait = Wir haben gerade erst eine Nachricht geschickt. Versuchen Sie es in { $seconds } Sekunden noch einmal.
msg-scope-other = Die Berechtigung „{ $scope }“ verwenden

## Form errors of the account rules (`accounts`)
msg-field-email-invalid = Die E-Mail-Adresse ist keine gültige E-Mail-Adresse.
msg-field-password-short = Das Passwort muss mindestens 8 Zeichen lang sein.
msg-field-password-long = Das Passwort darf höchstens 1024 Bytes lang sein.
msg-field-name = Der Name muss 1 bis 100 druckbare Zeichen lang sein.
msg-field-organization = Der Name der Organisation muss 1 bis 100 druckbare Zeichen lang sein.
