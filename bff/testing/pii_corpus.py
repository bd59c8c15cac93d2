"""A seeded corpus of PII inside everyday sentences, and prose that holds none.

``samples(kind)`` puts generated values (Faker, six locales) into sentences the way
people write them in chat and support tickets: sometimes announced ("My name is ..."),
often not ("... will pick it up at the front desk"), at the start, in the middle or at
the end before punctuation. ``prose()`` takes ordinary sentences from the repository's
own text (the bundled handbook, the demo inputs, the eval datasets' inputs) to measure
false positives on. Test support only: Faker is imported when samples are made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bff.context.corpus import DEMO_CORPUS

if TYPE_CHECKING:
    from faker import Faker

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT")
STRUCTURED = ("EMAIL", "CARD", "IBAN", "SSN", "IP", "SECRET", "JWT")
KINDS = (*STRUCTURED, "PHONE", "NAME", "ADDRESS")
SSN_LOCALES = ("en_US",)  # Faker's ``ssn()`` is the US number only in en_US


@dataclass(frozen=True)
class Sample:
    """A sentence with one PII value in it, at ``text[start:end]``."""

    text: str
    start: int
    end: int
    kind: str
    value: str
    locale: str


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

_Make = Callable[["Faker", str, int], str]


def _address(faker: Faker, locale: str, variant: int) -> str:
    """The street alone, or the line a letter carries in ``locale`` (postcode, city)."""
    street = ", ".join(part.strip() for part in faker.street_address().splitlines())
    if variant % 2 == 0:
        return street
    if locale == "en_US":
        return f"{street}, {faker.city()}, {faker.state_abbr()} {faker.postcode()}"
    if locale == "en_GB":
        return f"{street}, {faker.city()} {faker.postcode()}"
    if locale == "it_IT":
        return f"{street}, {faker.postcode()} {faker.city()} ({faker.state_abbr()})"
    return f"{street}, {faker.postcode()} {faker.city()}"


def _card(faker: Faker, locale: str, variant: int) -> str:
    number = faker.credit_card_number()
    if variant % 2 == 0:
        return number
    groups = (4, 6, 5) if len(number) == 15 else (4,) * ((len(number) + 3) // 4)
    parts, at = [], 0
    for size in groups:
        parts.append(number[at : at + size])
        at += size
    return " ".join(part for part in parts if part)


def _iban(faker: Faker, locale: str, variant: int) -> str:
    iban = faker.iban()
    if variant % 2 == 0:
        return iban
    return " ".join(iban[at : at + 4] for at in range(0, len(iban), 4))  # as printed


def _secret(faker: Faker, locale: str, variant: int) -> str:
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    alnum = upper + upper.lower() + "0123456789"
    draw = faker.random.choices
    if variant % 3 == 0:
        return "AKIA" + "".join(draw(upper + "234567", k=16))  # an AWS access key id
    if variant % 3 == 1:
        return "sk-" + "".join(draw(alnum, k=48))  # OpenAI, the older form
    return "sk-proj-" + "".join(draw(alnum + "_-", k=156))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(faker: Faker, locale: str, variant: int) -> str:
    """A real HS256 JWT: base64url header and claims, signed with a random key."""
    issued = faker.random.randint(1_600_000_000, 1_800_000_000)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": faker.uuid4(), "iat": issued, "exp": issued + 3600, "scope": "read"}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    key = bytes(faker.random.getrandbits(8) for _ in range(32))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


VALUES: dict[str, _Make] = {
    "PHONE": lambda faker, locale, variant: faker.phone_number(),
    "NAME": lambda faker, locale, variant: f"{faker.first_name()} {faker.last_name()}",
    "ADDRESS": _address,
    "EMAIL": lambda faker, locale, variant: faker.free_email() if variant % 2 else faker.email(),
    "CARD": _card,
    "IBAN": _iban,
    "SSN": lambda faker, locale, variant: faker.ssn(),
    "IP": lambda faker, locale, variant: faker.ipv6() if variant % 2 else faker.ipv4(),
    "SECRET": _secret,
    "JWT": _jwt,
}


def samples(kind: str, count: int = 200, seed: int = 19) -> list[Sample]:
    """``count`` sentences holding a ``kind`` value each, spread evenly over the locales
    (SSN: en_US only); the same for the same seed."""
    from faker import Faker

    if kind not in VALUES:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    locales = SSN_LOCALES if kind == "SSN" else LOCALES
    fakers: dict[str, Faker] = {}
    for locale in locales:
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(f"{seed}:{kind}:{locale}")
    choose = random.Random(f"{seed}:{kind}").choice
    made: list[Sample] = []
    for index in range(count):
        locale = locales[index % len(locales)]
        value = VALUES[kind](fakers[locale], locale, index // len(locales)).strip()
        before, after = choose(TEMPLATES[kind][locale[:2]]).split("{}")
        text = before + value + after
        made.append(Sample(text, len(before), len(before) + len(value), kind, value, locale))
    return made


# --- prose without PII -------------------------------------------------------------

_ROOT = Path(__file__).resolve().parents[2]  # the repository, when run from a checkout
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"<[^>]+>|`|\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)")
_BULLET = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+|>\s*)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(¿¡]?[A-ZÀ-Ý0-9¿¡])")
_DROP = re.compile(r"@|\d{5,}|\[[A-Z]+_\d+\]|[\x00-\x08\x0b-\x1f\x7f]|\{\{|[{}|]")
# The eval inputs test redaction on purpose: cards, IBANs, phone numbers, an SSN, IPs and
# keys written with separators, which the 5-digit rule alone lets through.
_PII_SHAPED = re.compile(
    r"\d(?:[\s().-]{0,2}\d){6,}|\d{1,3}(?:\.\d{1,3}){3}|\b[0-9a-fA-F]{1,4}:[0-9a-fA-F]*:"
    r"|\b(?:sk|rk|pk)[-_]\w|\bAKIA|\bghp_|\beyJ|\+\d"
)
# Found by reading every candidate sentence: the eval inputs name people (meeting minutes
# with "Present: Dana (engineering manager), Priya ...", "Call Bob", "thank you to Maya")
# and two give a street ("the bakery on King Street", "Keizersgracht 100"). Those are
# exactly the PII this corpus must not hold, so sentences naming them are dropped.
_PEOPLE = re.compile(
    r"\b(?:Bob|Dana|Dave|Helen|Ines|Jen|Jonas|Kwame|Lena|Lucía|Marco|Maria|Maya|Olaf|Priya"
    r"|Raj|Robert|Sam|Sarah|Sofia|Tom|Tomás|Yuki)\b"
    r"|\b[A-Z]\w+ (?:Street|Road|Avenue|Lane)\b|Keizersgracht"
)


def _units(markdown: str) -> Iterator[str]:
    """Paragraphs and list items of ``markdown``, with its syntax taken out."""
    markdown = _FENCE.sub("\n", markdown.replace("\r\n", "\n"))
    for block in re.split(r"\n\s*\n", markdown):
        unit: list[str] = []
        for line in block.splitlines():
            if line.lstrip().startswith("|"):  # a table row: no sentences in it
                continue
            if _BULLET.match(line) and unit:
                yield " ".join(unit)
                unit = []
            unit.append(_MARKUP.sub("", _LINK.sub(r"\1", _BULLET.sub("", line))).strip())
        if unit:
            yield " ".join(unit)


def _sentences(markdown: str) -> Iterator[str]:
    for unit in _units(markdown):
        for sentence in _SENTENCE_END.split(" ".join(unit.split())):
            words = sentence.split()
            if not 6 <= len(words) <= 60:
                continue
            if not any(rule.search(sentence) for rule in (_DROP, _PII_SHAPED, _PEOPLE)):
                yield sentence


def _handbook() -> list[str]:
    pages = sorted(DEMO_CORPUS.rglob("*.md"))
    return [s for page in pages for s in _sentences(page.read_text(encoding="utf-8"))]


def _demo_inputs() -> list[str]:
    """The sample inputs the demo front end fills its forms with."""
    found: list[str] = []
    for name in ("js/tasks.js", "js/docs.js", "index.html"):
        path = _ROOT / "frontend-demo" / name
        if path.is_file():
            source = path.read_text(encoding="utf-8")
            literals = re.findall(r'^\s*(?:\w+:|.*SAMPLE\w* =)\s*\n?\s*"([^"]+)"', source, re.M)
            literals += re.findall(r"<textarea[^>]*>([^<]+)</textarea>", source)
            found += [s for text in literals for s in _sentences(text)]
    return found


def _eval_inputs() -> list[str]:
    """The string inputs of the golden eval datasets (``evals/*.jsonl``)."""
    found: list[str] = []
    for path in sorted((_ROOT / "evals").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            inputs = json.loads(line)["input"] if line.strip() else {}
            for value in inputs.values():
                if isinstance(value, str):
                    found += _sentences(value)
    return found


def prose(count: int = 200) -> list[str]:
    """``count`` sentences of ordinary text with no PII, taken in turn from the handbook,
    the demo inputs and the eval inputs (each shuffled with a fixed seed), no repeats."""
    sources = [_handbook(), _demo_inputs(), _eval_inputs()]
    for number, source in enumerate(sources):
        random.Random(19 + number).shuffle(source)
    chosen: dict[str, None] = {}
    while len(chosen) < count and any(sources):
        for source in sources:
            while source and source[-1] in chosen:
                source.pop()
            if source and len(chosen) < count:
                chosen[source.pop()] = None
    if len(chosen) < count:
        raise ValueError(f"only {len(chosen)} prose sentences found, {count} asked for")
    return list(chosen)
