"""The sentences ``bff.testing.pii_corpus`` puts generated PII into: per kind and
language, written the way people write in chat and support tickets, one ``{}`` each."""

from __future__ import annotations


def _lines(block: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in block.strip().splitlines())


# One template a line; ``{}`` is where the value goes. Written as people write, not
# shaped to help any recognizer: many give no hint of what the value is.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "PHONE": {
        "en": _lines("""
            Call me on {} after 5pm.
            {} - that's my mobile, text before calling.
            You can reach the front office at {}.
            Missed call from {}, no voicemail left
            New number is {}
            Tried {} three times yesterday and nobody picked up.
            Contact: {}
            {} is the courier's number if the driver gets lost.
            Please ring {} to rebook the appointment.
            Sent from my phone ({})
        """),
        "de": _lines("""
            Bitte rufen Sie mich unter {} zurück.
            Tel.: {}
            {} ist meine neue Handynummer.
            Ich bin tagsüber unter {} erreichbar.
            Hab's unter {} probiert, keiner geht ran.
            Rückruf bitte an {}, danke!
            Die Nummer vom Hausmeister ist {}.
            {} hat dreimal angerufen, wer ist das?
        """),
        "fr": _lines("""
            Numéro : {}
            Vous pouvez me joindre au {} en journée.
            {} c'est mon portable, merci de rappeler.
            Appel manqué du {} ce matin.
            Mon nouveau numéro est le {}.
            Merci de rappeler le {} avant 18h.
            Le livreur a laissé un message, son numéro : {}
            J'ai essayé le {} trois fois sans réponse.
        """),
        "es": _lines("""
            Llámame al {} cuando puedas.
            Mi móvil es {}
            Teléfono: {}
            {} es el número de la oficina, pregunta por recepción.
            Tengo una llamada perdida del {}, ¿sabéis quién es?
            Podéis contactar conmigo en el {} por las tardes.
            Nuevo número: {}.
            He llamado al {} varias veces y no contesta nadie.
        """),
        "it": _lines("""
            Chiamami al {} quando puoi.
            Il mio cellulare è {}
            Tel. {}
            {} è il numero dell'ufficio, chiedete di me.
            Ho una chiamata persa dal {}, qualcuno sa chi è?
            Potete contattarmi al {} nel pomeriggio.
            Nuovo numero: {}.
            Ho provato il {} tre volte ma non risponde nessuno.
        """),
    },
    "NAME": {
        "en": _lines("""
            My name is {} and I'm writing about my last invoice.
            {} will pick it up at the front desk.
            Forwarding this from {} — see below.
            The parcel for {} never arrived
            Sent from {}'s phone
            Hi, this is Dr. {} from the clinic.
            Please add {} to the shared workspace.
            Thanks, {}
            Spoke to {} yesterday, she said the refund was approved.
            Can you check whether Mr {} has renewed?
        """),
        "de": _lines("""
            Mein Name ist {}, ich habe eine Frage zur Rechnung.
            {} hat angerufen
            Bitte die Unterlagen an Frau {} weiterleiten.
            Viele Grüße, {}
            Das Paket für {} ist nie angekommen.
            Herr {} holt es morgen am Empfang ab.
            Laut {} ist die Rückerstattung schon raus.
            Kannst du {} zum Workspace hinzufügen?
            Im Auftrag von {}
        """),
        "fr": _lines("""
            Je m'appelle {} et j'ai un souci avec ma commande.
            {} passera le récupérer à l'accueil.
            Message transféré de la part de {} — voir ci-dessous.
            Le colis pour {} n'est jamais arrivé
            Cordialement, {}
            Bonjour, ici Mme {} du service comptable.
            Pouvez-vous ajouter {} à l'espace de travail ?
            J'ai eu {} au téléphone hier, il dit que c'est réglé.
        """),
        "es": _lines("""
            Me llamo {} y tengo un problema con la factura.
            {} pasará a recogerlo por recepción.
            Reenvío esto de parte de {}, mirad abajo.
            El paquete para {} nunca llegó
            Un saludo, {}
            Buenas, soy la Sra. {} de contabilidad.
            ¿Podéis añadir a {} al espacio de trabajo?
            Hablé con {} ayer y dice que ya está resuelto.
        """),
        "it": _lines("""
            Mi chiamo {} e ho un problema con l'ordine.
            {} passerà a ritirarlo alla reception.
            Inoltro da parte di {}, vedi sotto.
            Il pacco per {} non è mai arrivato
            Cordiali saluti, {}
            Buongiorno, sono il dott. {} dello studio.
            Potete aggiungere {} allo spazio di lavoro?
            Ho sentito {} ieri, dice che è tutto risolto.
        """),
    },
    "ADDRESS": {
        "en": _lines("""
            Ship it to {}
            My new address is {}.
            {} is where the invoices should go from now on.
            The parcel was left at {} but I live next door.
            Billing address: {}
            We moved! Send everything to {} from March.
            Can you update the delivery address to {}? Thanks
            Returned to sender — {} apparently doesn't exist.
        """),
        "de": _lines("""
            Adresse: {}
            Bitte liefern Sie an {}.
            Meine neue Anschrift lautet {}.
            {} ist die Rechnungsadresse, nicht die Lieferadresse.
            Das Paket wurde bei {} abgegeben, ich wohne aber nebenan.
            Wir sind umgezogen, ab März bitte an {} schicken.
            Könnt ihr die Lieferadresse auf {} ändern? Danke
            Retoure kam zurück, angeblich gibt es {} nicht.
        """),
        "fr": _lines("""
            Adresse : {}
            Merci de livrer à l'adresse suivante : {}.
            Ma nouvelle adresse est {}.
            {} — c'est l'adresse de facturation, pas de livraison.
            Le colis a été déposé à l'adresse {} alors que j'habite à côté.
            On a déménagé : {} à partir de mars.
            Pouvez-vous changer l'adresse de livraison pour {} ? Merci
            Colis retourné, {} serait introuvable.
        """),
        "es": _lines("""
            Dirección: {}
            Enviadlo a {}, por favor.
            Mi nueva dirección es {}.
            {} es la dirección de facturación, no la de envío.
            Dejaron el paquete en {} pero yo vivo al lado.
            Nos hemos mudado, a partir de marzo todo a {}.
            ¿Podéis cambiar la dirección de entrega a {}? Gracias
            Me lo devolvieron, dicen que {} no existe.
        """),
        "it": _lines("""
            Indirizzo: {}
            Spedite a {}, per favore.
            Il mio nuovo indirizzo è {}.
            {} è l'indirizzo di fatturazione, non quello di consegna.
            Hanno lasciato il pacco in {} ma io abito accanto.
            Ci siamo trasferiti, da marzo mandate tutto a {}.
            Potete cambiare l'indirizzo di consegna in {}? Grazie
            Il pacco è tornato indietro, dicono che {} non esiste.
        """),
    },
    "EMAIL": {
        "en": _lines("""
            Email me at {} when it's ready.
            {} is my work address, please use that one.
            Forwarding this from {} — see below.
            The invoice went to {} instead of finance.
            cc {}
            Can you change the login email to {}?
            Reply-To: {}
            I never got the reset link at {}.
        """),
        "de": _lines("""
            Schreiben Sie mir bitte an {}.
            {} ist meine Arbeitsadresse, bitte die nehmen.
            Weitergeleitet von {}, siehe unten.
            Die Rechnung ging an {} statt an die Buchhaltung.
            Kopie an {}
            Könnt ihr die Login-Mail auf {} ändern?
            E-Mail: {}
            Der Link zum Zurücksetzen kam bei {} nie an.
        """),
        "fr": _lines("""
            Écrivez-moi à {} quand c'est prêt.
            {} c'est mon adresse pro, utilisez plutôt celle-là.
            Transféré depuis {} — voir plus bas.
            La facture est partie à {} au lieu de la compta.
            En copie : {}
            Pouvez-vous changer l'e-mail de connexion en {} ?
            Courriel : {}
            Je n'ai jamais reçu le lien de réinitialisation sur {}.
        """),
        "es": _lines("""
            Escríbeme a {} cuando esté listo.
            {} es mi correo del trabajo, usad ese.
            Reenviado desde {}, ver abajo.
            La factura llegó a {} en vez de a contabilidad.
            CC: {}
            ¿Podéis cambiar el correo de acceso a {}?
            Correo: {}
            Nunca me llegó el enlace de recuperación a {}.
        """),
        "it": _lines("""
            Scrivetemi a {} quando è pronto.
            {} è la mia mail di lavoro, usate quella.
            Inoltrato da {}, vedi sotto.
            La fattura è arrivata a {} invece che all'amministrazione.
            In copia {}
            Potete cambiare la mail di accesso in {}?
            Email: {}
            Non mi è mai arrivato il link di reset su {}.
        """),
    },
    "CARD": {
        "en": _lines("""
            My card number is {}.
            {} was charged twice this month.
            Card: {}
            Please refund to {}, the old card is cancelled.
            Tried paying with {} but it keeps getting declined
            The payment on card {} failed again.
            Use {} for the renewal please
            Charged to {} on the 3rd, no idea what for.
        """),
        "de": _lines("""
            Meine Kartennummer ist {}.
            {} wurde diesen Monat doppelt belastet.
            Karte: {}
            Bitte auf {} erstatten, die alte Karte ist gesperrt.
            Zahlung mit {} wird immer abgelehnt
            Die Abbuchung von {} ist wieder fehlgeschlagen.
            Für die Verlängerung bitte {} nehmen
            Am 3. wurde {} belastet, keine Ahnung wofür.
        """),
        "fr": _lines("""
            Mon numéro de carte est le {}.
            {} a été débitée deux fois ce mois-ci.
            Carte : {}
            Merci de rembourser sur la {}, l'ancienne carte est annulée.
            J'essaie de payer avec la {} mais c'est toujours refusé
            Le prélèvement sur la carte {} a encore échoué.
            Utilisez la {} pour le renouvellement svp
            Débité sur {} le 3, aucune idée pourquoi.
        """),
        "es": _lines("""
            Mi número de tarjeta es {}.
            Me han cobrado dos veces en la {} este mes.
            Tarjeta: {}
            Devolvedlo a la {}, la antigua está cancelada.
            Intento pagar con la {} pero siempre la rechaza
            El cargo en la tarjeta {} ha vuelto a fallar.
            Usad la {} para la renovación
            Cargo en {} el día 3, ni idea de qué es.
        """),
        "it": _lines("""
            Il numero della mia carta è {}.
            Sulla {} mi avete addebitato due volte questo mese.
            Carta: {}
            Rimborsate sulla {}, la vecchia carta è bloccata.
            Provo a pagare con la {} ma viene sempre rifiutata
            L'addebito sulla carta {} è fallito di nuovo.
            Per il rinnovo usate la {}
            Addebito su {} il giorno 3, non so per cosa.
        """),
    },
    "IBAN": {
        "en": _lines("""
            My IBAN is {}.
            Please refund to {}
            {} is the account for the direct debit.
            Bank details: {}
            Can you update the SEPA mandate to {}? Thanks
            Transfer went out from {} yesterday.
            IBAN: {}, BIC to follow.
            The old account {} is closed now.
        """),
        "de": _lines("""
            Meine IBAN lautet {}.
            Bitte auf {} zurücküberweisen
            {} ist das Konto für die Lastschrift.
            Bankverbindung: {}
            Könnt ihr das SEPA-Mandat auf {} umstellen? Danke
            Die Überweisung ging gestern von {} raus.
            IBAN: {}, BIC folgt.
            Das alte Konto {} ist inzwischen aufgelöst.
        """),
        "fr": _lines("""
            Mon IBAN est {}.
            Merci de rembourser sur {}
            {} est le compte pour le prélèvement.
            Coordonnées bancaires : {}
            Pouvez-vous mettre à jour le mandat SEPA avec {} ? Merci
            Le virement est parti de {} hier.
            IBAN : {}, le BIC suit.
            L'ancien compte {} est clôturé.
        """),
        "es": _lines("""
            Mi IBAN es {}.
            Devolvedlo a {}
            {} es la cuenta para la domiciliación.
            Datos bancarios: {}
            ¿Podéis cambiar el mandato SEPA a {}? Gracias
            La transferencia salió ayer de {}.
            IBAN: {}, el BIC os lo paso luego.
            La cuenta antigua {} ya está cerrada.
        """),
        "it": _lines("""
            Il mio IBAN è {}.
            Rimborsate su {}
            {} è il conto per l'addebito diretto.
            Coordinate bancarie: {}
            Potete aggiornare il mandato SEPA con {}? Grazie
            Il bonifico è partito ieri da {}.
            IBAN: {}, il BIC lo mando dopo.
            Il vecchio conto {} è chiuso.
        """),
    },
    "SSN": {
        "en": _lines("""
            My SSN is {}.
            SSN: {}
            {} is the social on the tax form.
            For the W-9 use {}
            Social security number {} — please verify.
            The form has {} but the last four are wrong.
            Identity check: last name matches, SSN {}.
            I typed {} into the form and it rejected it
        """),
    },
    "IP": {
        "en": _lines("""
            Our office IP is {}, please allowlist it.
            {} keeps getting blocked by the firewall.
            Login attempts from {} — was that you?
            Server: {}
            Can you add {} to the allowlist?
            The webhook calls come from {} according to the logs.
            Ping to {} times out
            We're behind NAT, public address {}.
        """),
        "de": _lines("""
            Unsere Büro-IP ist {}, bitte freischalten.
            {} wird ständig von der Firewall geblockt.
            Anmeldeversuche von {} — warst du das?
            Server: {}
            Könnt ihr {} auf die Allowlist setzen?
            Laut Log kommen die Webhooks von {}.
            Ping auf {} läuft ins Timeout
            Wir sind hinter NAT, öffentliche Adresse {}.
        """),
        "fr": _lines("""
            L'IP du bureau est {}, merci de l'autoriser.
            {} se fait bloquer par le pare-feu en permanence.
            Tentatives de connexion depuis {} — c'était toi ?
            Serveur : {}
            Pouvez-vous ajouter {} à la liste autorisée ?
            D'après les logs, les webhooks viennent de {}.
            Le ping vers {} ne répond pas
            On est derrière un NAT, adresse publique {}.
        """),
        "es": _lines("""
            La IP de la oficina es {}, por favor permitidla.
            {} sigue bloqueada por el cortafuegos.
            Intentos de acceso desde {}, ¿fuiste tú?
            Servidor: {}
            ¿Podéis añadir {} a la lista de permitidas?
            Según los logs los webhooks vienen de {}.
            El ping a {} no responde
            Estamos detrás de NAT, dirección pública {}.
        """),
        "it": _lines("""
            L'IP dell'ufficio è {}, per favore abilitatelo.
            {} continua a essere bloccato dal firewall.
            Tentativi di accesso da {}, eri tu?
            Server: {}
            Potete aggiungere {} alla allowlist?
            Dai log i webhook arrivano da {}.
            Il ping verso {} va in timeout
            Siamo dietro NAT, indirizzo pubblico {}.
        """),
    },
    "SECRET": {
        "en": _lines("""
            Here is my API key: {}
            {} stopped working this morning.
            I accidentally pasted {} in the channel, please rotate it.
            key={}
            Using {} for the integration, is that right?
            Our config has {} hard-coded, is that a problem?
            The error says invalid key for {}.
            Access key {} was flagged by the scanner
        """),
        "de": _lines("""
            Hier mein API-Schlüssel: {}
            {} funktioniert seit heute morgen nicht mehr.
            Hab aus Versehen {} in den Channel kopiert, bitte sperren.
            key={}
            Ich nutze {} für die Integration, passt das?
            In unserer Config steht {} fest drin, ist das ein Problem?
            Die Fehlermeldung sagt ungültiger Schlüssel für {}.
            Der Scanner hat den Schlüssel {} gemeldet
        """),
        "fr": _lines("""
            Voici ma clé API : {}
            {} ne marche plus depuis ce matin.
            J'ai collé {} dans le canal par erreur, merci de la révoquer.
            key={}
            J'utilise {} pour l'intégration, c'est bon ?
            Notre config a {} en dur, c'est un problème ?
            L'erreur dit clé invalide pour {}.
            La clé {} a été signalée par le scanner
        """),
        "es": _lines("""
            Esta es mi clave de API: {}
            {} dejó de funcionar esta mañana.
            Pegué {} en el canal sin querer, rotadla por favor.
            key={}
            Estoy usando {} para la integración, ¿está bien?
            Nuestra config tiene {} puesta a mano, ¿es un problema?
            El error dice clave no válida para {}.
            El escáner marcó la clave {}
        """),
        "it": _lines("""
            Ecco la mia chiave API: {}
            {} ha smesso di funzionare stamattina.
            Ho incollato {} nel canale per sbaglio, revocatela per favore.
            key={}
            Sto usando {} per l'integrazione, va bene?
            Nella nostra config c'è {} scritta a mano, è un problema?
            L'errore dice chiave non valida per {}.
            La chiave {} è stata segnalata dallo scanner
        """),
    },
    "JWT": {
        "en": _lines("""
            Here's the token: {}
            Authorization: Bearer {}
            {} expired after five minutes.
            The API rejects {} with a 401.
            Decoding {} shows the wrong tenant
            token={}
            I got {} from the login endpoint, is it valid?
            Session token {} — is it supposed to be that long?
        """),
        "de": _lines("""
            Hier das Token: {}
            Authorization: Bearer {}
            {} ist nach fünf Minuten abgelaufen.
            Die API lehnt {} mit 401 ab.
            Wenn ich {} dekodiere, steht der falsche Mandant drin
            token={}
            Vom Login-Endpunkt kam {}, ist das gültig?
            Session-Token {} — ist das so lang richtig?
        """),
        "fr": _lines("""
            Voici le jeton : {}
            Authorization: Bearer {}
            {} a expiré au bout de cinq minutes.
            L'API rejette {} avec une 401.
            En décodant {} on voit le mauvais tenant
            token={}
            J'ai reçu {} du endpoint de login, il est valide ?
            Jeton de session {} — c'est normal qu'il soit si long ?
        """),
        "es": _lines("""
            Aquí va el token: {}
            Authorization: Bearer {}
            {} caducó a los cinco minutos.
            La API rechaza {} con un 401.
            Al decodificar {} sale el tenant equivocado
            token={}
            El endpoint de login me dio {}, ¿es válido?
            Token de sesión {}, ¿es normal que sea tan largo?
        """),
        "it": _lines("""
            Ecco il token: {}
            Authorization: Bearer {}
            {} è scaduto dopo cinque minuti.
            L'API rifiuta {} con un 401.
            Decodificando {} esce il tenant sbagliato
            token={}
            Dal login mi è arrivato {}, è valido?
            Token di sessione {}, è normale che sia così lungo?
        """),
    },
}
