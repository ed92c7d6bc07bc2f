/** `sealmix --help` and `sealmix <command> --help`. */
import { REPAIR_HELP } from './commands/repair.ts'

export const HELP: Record<string, string> = {
  '': `sealmix: a metadata-hiding mixnet relay

usage: sealmix <command> [options]    (sealmix <command> --help, or -h, for its options)
       sealmix --version

commands:
  run                  run a relay (gateway or mix) from its config file
  authority            run a directory authority (signs each epoch's network document)
  ingress              run the sealed ingress beside a homeserver
  send                 send one message from a client profile and wait for its ack
  listen               receive, open and verify messages for a client profile (--peer: demo chat)
  rotate-capability    a new capability key for a client profile (--now: a block, no grace)
  room-demo            three members of a sealed room in one process: room chat, then a block
  devnet               run a local network on loopback (separate processes) until Ctrl-C
  init                 write a config (relay, ingress, authority) or a profile (client) with fresh keys
  keygen               create a relay's keys in its data directory and print its descriptor
  signer-keygen        create a key for signing network files and print its public key
  network              build and sign the network file from relay and ingress descriptors
  inspect              counts and ages in a stopped relay's spool and mailboxes (never contents)
  repair               after RELAY_STORE_CORRUPT: say what a stopped relay's database lost, make it safe to run
  keys                 back up a relay's keys into one passphrase-sealed file, or restore them (backup|restore)
  migrate              upgrade a stopped relay's or ingress's data directory to this version's format
  validate-config      check a relay, ingress or authority config file, print the first error
  standin-homeserver   run the stand-in Matrix homeserver (a fake for the devnet and tests)
  deploy-init          keys, configs and admission for deploy/compose.yaml and deploy/kubernetes
  audit                measure unlinkability: a global passive adversary against a real relay
  version              print the version and the commit it was built from

Options come after the command: --name VALUE or --name=VALUE (a value that starts with '-' needs
the = form). Durations need a unit: 250ms, 5s, 1.5m, 1h.

exit status: 0 ok, 64 usage error, 65 bad input data, 69 a service (homeserver, ingress API)
unavailable, 70 internal error, 71 cannot bind an address (the line names it and its key),
73 cannot create (a key backup or restored keys exist), 74 store failure, 75 temporary failure
(data directory in use, no ack in time), 77 refused by the ingress (or a wrong backup
passphrase), 78 configuration, keys, network file or data format refused, 130 second signal`,
  run: 'usage: sealmix run --config FILE [--log-format json|pretty]\n\nRuns until SIGTERM or SIGINT (graceful: stop accepting, finish the round, commit, close);\na second signal exits at once with status 130. SIGHUP re-reads and validates the whole config\nfile, then applies the limits (all but workers), the spool and mailbox quotas and TTLs,\nmetrics.token, directory.authorities, the TLS files and log.level, without closing a link; other\nchanged keys wait for a restart (both lists are logged), and a refused file is logged and\nchanges nothing. Check a file first with sealmix validate-config --config FILE.\nExit 71: the listen or metrics address cannot be bound (the line names it and its key).\nLogs are JSON lines, or readable lines (level names, ISO times) on a terminal; --log-format\n(or SEALMIX_LOG_FORMAT) chooses. The first line names the version.',
  authority:
    'usage: sealmix authority --config FILE [--log-format json|pretty]\n       sealmix authority admit --config FILE [--relay ROLE:LAYER:IDENTITY_HEX]... [--server NAME=ROOT_HEX]...\n       sealmix authority remove --config FILE [--identity-key IDENTITY_HEX]... [--server NAME]...\n\nadmit and remove edit the admission file the config names (admissionFile): only the relays\nadmitted there, each with its role and layer, and the ingresses of the servers named there,\neach bound by a signature of one of its server root keys, are listed. A running authority re-reads the file within a second.\nThe config may set limits (perSourcePerSecond, perSecond) and metrics ({ host, port }: /metrics).\n\nServes signed per-epoch network documents built from relay and ingress descriptors (POST\n/v1/descriptor, GET /v1/document/{epoch|current}, GET /v1/signature/{epoch}, GET /v1/schedule).\nA document is fixed at its publish deadline (half an epoch before it starts) and served from\nthen on; descriptors are shared with the peers, whose signatures on identical bytes are attached.\nSIGHUP re-reads and validates the config file (and checks the admission file), then applies\nlimits, peers and log.level; other changed keys wait for a restart (logged).\nExit 71: the listen or metrics address cannot be bound (the line names it and its key).\nLogs are JSON lines, or readable lines (level names, ISO times) on a terminal; --log-format\n(or SEALMIX_LOG_FORMAT) chooses. The first line names the version.',
  ingress:
    'usage: sealmix ingress --config FILE [--log-format json|pretty]\n\nRuns the ingress (see docs/OPERATIONS.md, "The ingress (homeserver admins)") until SIGTERM or SIGINT.\nSIGHUP re-reads and validates the config file, then applies limits.perDestinationPerMinute,\nlimits.maxDestinations, rooms.rotationGraceMs, metrics.token, directory.authorities and\nlog.level; other changed keys wait for a restart (logged); a refused file changes nothing.\nExit 71: the api or metrics address cannot be bound (the line names it and its key).\nLogs are JSON lines, or readable lines (level names, ISO times) on a terminal; --log-format\n(or SEALMIX_LOG_FORMAT) chooses. The first line names the version.',
  'rotate-capability':
    "usage: sealmix rotate-capability --profile FILE --contact-out FILE [--now]\n\nMakes a new capability key for the profile's device, registers it with the ingress API and writes\nthe new contact card. Contacts with the old card can deliver for 24 hours more; with --now (a\nblock) not at all: give the new card only to the contacts who may still write.",
  'room-demo':
    "usage: sealmix room-demo --profile FILE --profile FILE --profile FILE\n                         --contact CONTACT.json --contact CONTACT.json --contact CONTACT.json\n                         [--every 3s] [--block-after 3] [--json]\n\nThree members of one Matrix room, the profiles' devices with their contact cards in the same\norder. Each has its own SealmixClient, gateway connection and homeserver token, booted as listen\nboots; for the demo the three share this one process. The first makes the room (inviting the\nothers and the ingress's bot), makes its room key, registers it with the ingress API and shares\nit in sealed messages. Every member sends 'hello #n' to the room every --every (default 3s, at\nleast 100ms) once it holds the key, and prints each room message it opens, verifies and finds\nsent by a joined member. Once the third has had --block-after messages delivered (default 3),\nthe first blocks her: a new room key, shared with the second only; the ingress refuses her next\nmessage and she stops. Its clients pull mailboxes of their own, so listen may run beside it\nwith the same profiles. Until Ctrl-C; --json: one JSON object per line.",
  send: "usage: sealmix send --profile FILE --to CONTACT.json --message TEXT [--timeout 120s] [--state DIR] [--json]\n\nFetches a SenderCert, sends TEXT sealed to the contact's device, waits for the ingress's\ndelivery ack, for up to --timeout (default 120s). Exit 0 delivered, 75 no ack in time, 77 refused.\n--state DIR keeps the client's outbox and SURB tokens there (encrypted): what a run left unacked\nis carried on by the next run with the same profile and DIR, while that run lasts.",
  listen:
    "usage: sealmix listen --profile FILE [--peer CONTACT.json... [--every 3s]] [--state DIR] [--json]\n\nCollects envelopes from the homeserver, opens and verifies each, prints them. With --peer it\nalso sends a message every --every (default 3s, at least 100ms) to the first peer, and answers\neach message it receives from a peer's device (the demo; the devnet's web page is a second peer).\n--state DIR keeps the client's state there (see sealmix send --help).",
  'validate-config':
    'usage: sealmix validate-config --config FILE [--role ingress|authority]\n\nPrints "ok" and exits 0, or prints the first error (key, rule, value) and exits 78. Without\n--role, an ingress or authority config is known by its own role key. For an authority it also\nchecks the admission file its config names; for a relay on a static network file, that the file\ncan be read.',
  keygen:
    'usage: sealmix keygen --data-dir DIR --role gateway|mix [--layer N] --address ws://HOST:PORT\n\nCreates missing key files (never overwrites) and prints the relay descriptor as JSON. --layer:\n1, 2 or 3 for a mix (required); a gateway is layer 0.',
  'signer-keygen':
    'usage: sealmix signer-keygen --out FILE\n\nCreates a signer key file (0600) if absent and prints its public key (hex).',
  init: `usage:
  sealmix init --role gateway|mix --data-dir DIR --listen HOST:PORT [--metrics HOST:PORT] --out FILE
               (--authority URL=SIGNER_HEX... [--layer N] [--address ws://HOST:PORT] [--max-skew 30s]
                | --network FILE --signer HEX)
  sealmix init --role ingress --data-dir DIR --server-name NAME --homeserver URL
               (--authority URL=SIGNER_HEX... | --network FILE --signer HEX)
               --out FILE --registration FILE [--api HOST:PORT] [--metrics HOST:PORT] [--gateway RELAY_ID]...
  sealmix init --role authority --data-dir DIR --listen HOST:PORT --network-name NAME --genesis-ms MS_SINCE_1970
               [--epoch 1h] [--grace 5m] [--mixing JSON] [--authority URL=SIGNER_HEX (a peer)]... --out FILE
  sealmix init --role client --user @USER:SERVER --device ID --token-file FILE --homeserver URL
               --ingress-api URL --gateway RELAY_ID (--authority URL=SIGNER_HEX... | --network FILE --signer HEX)
               --trust SERVER=ROOT_HEX --out PROFILE.json --contact-out CONTACT.json

Creates keys (never overwriting) and writes the file: for a gateway or mix with every setting
that has a default spelled out with that default; for the other roles with what the options set
(the rest takes its documented default). With --authority the node follows those directory
authorities (a majority must sign each epoch's document; relays then make per-epoch mix keys);
with --network it uses a static signed file.
For an ingress it also writes the application-service registration for the homeserver and prints
the ingress descriptor (for 'sealmix network --ingress') and the server root key clients pin.`,
  devnet:
    'usage: sealmix devnet [--data-dir DIR] [--epoch 60s]\n\nRuns on 127.0.0.1, as separate processes: 3 directory authorities, 2 gateways, 3 mixes, an\ningress in front of a stand-in homeserver, two demo clients that exchange messages with acks,\nand a room demo (room-demo) where alice, bob and carol send sealed room messages until alice\nblocks carol. Mix keys rotate every --epoch (e.g. 5s to watch rotations). Prints a status\nline every two seconds and stops cleanly on Ctrl-C. Data goes to a temporary directory (removed on exit)\nunless --data-dir is given.',
  network:
    'usage: sealmix network --signer-key FILE --out FILE [--name NAME] [--mixing JSON] [--ingress FILE]... RELAY.json...\n\nSigns a network file listing the relays (descriptors from keygen) and ingresses.',
  inspect:
    'usage: sealmix inspect --config FILE [--json]\n\nPrints packet counts, bytes, destinations and the oldest age of the spool and the mailboxes of\na stopped relay. On a running relay it exits 75 (data directory in use): read /metrics instead.',
  repair: REPAIR_HELP,
  keys: `usage: sealmix keys backup (--config FILE | --data-dir DIR) --out FILE [--passphrase-file FILE] [--force]
       sealmix keys restore --in FILE (--config FILE | --data-dir DIR) [--passphrase-file FILE]

backup seals a relay's identity key and mailbox key, and a static network file's mix key, into one
file (mode 0600) with a passphrase: Argon2id, then XChaCha20-Poly1305 (libsodium secretstream).
Mix keys of epochs (keys/mix-<e>.key) are never backed up: they exist to be erased. The passphrase
is the first line of the passphrase file, else $SEALMIX_BACKUP_PASSPHRASE, else typed on the
terminal (twice, not echoed); never an argument, which ps would show. At least 12 characters. An
existing output file is refused unless forced.

restore writes the keys into an empty data directory (no keys/, no db/; the config may be there),
laid out as init makes them: the relay started on it is the same relay, with new mix keys for its
epochs. A static network file's mix key comes back refused, since its replay tags are not in the
backup (docs/OPERATIONS.md, "Keys and backups"). A wrong passphrase or a damaged file writes nothing.

exit status: 0 done; 64 usage (no passphrase given, or one too short); 65 KEYS_BACKUP_CORRUPT,
KEYS_BACKUP_UNSUPPORTED; 73 KEYS_BACKUP_EXISTS, KEYS_RESTORE_NOT_EMPTY; 77 KEYS_BACKUP_WRONG_PASSPHRASE;
78 RELAY_KEYS_INVALID, KEYS_RESTORE_MISMATCH, DATA_FORMAT_NEWER, DATA_FORMAT_UNREADABLE.`,
  migrate:
    'usage: sealmix migrate --config FILE [--role ingress]\n\nUpgrades the data directory of a stopped relay (or an ingress) in place to the format this sealmix\nruns on, one step at a time, and says what each step changed. A relay or ingress refuses to start\non an older format (DATA_FORMAT_OLDER, exit 78) and names this command. Format 1 (no FORMAT file)\nto 2: checks that keys/ and db/ are laid out as format 1, then records the format in FORMAT.\nA second run finds nothing to do. Exit 75: a program runs on the directory (nothing changed);\n78: a newer or unknown format, or not the layout its format says (DATA_LAYOUT_UNKNOWN).',
  'deploy-init':
    "usage: sealmix deploy-init --dir DIR [--server-name NAME] [--homeserver URL] [--max-replicas N]\n       [--network-name NAME] [--epoch 1h] [--grace 5m] [--genesis-ms MS] [--mixing JSON]\n       [--loopback PORT] [--kubernetes PATH]\n\nWrites every key, config and admission of a network that follows three directory authorities,\nfor deploy/compose.yaml and deploy/kubernetes: one config per kind (what differs per pod comes\nfrom SEALMIX_* variables), an identity for each of the first --max-replicas (default 3) pods of\nevery relay StatefulSet, all admitted, the ingress's keys and tokens, a Secret script and an\noverlay of deploy/kubernetes. Run again, it keeps every key, token and the schedule and makes and\nadmits what is missing. --loopback PORT: every listener on 127.0.0.1, the authorities on\nPORT..PORT+2 (metrics +3..+5).",
  audit:
    "usage: sealmix audit [--quick] [--only batch|off|fifo] [--json FILE] [--svg FILE]\n\nPlays a global passive adversary against real relay processes (several mixing settings and\nloads) and one mix of the devnet: records every frame (time, link, size) and scores FIFO,\nnearest-in-time, pool-count and profiling adversaries, and a cover adversary, against the\nground truth of which input became which output. Each configuration passes when no adversary\nbeats what its strategy promises (success at most 1/k for an anonymity set of k, entropy at\nleast log2 k - 0.5). Positive controls run beside it: mixing off, a FIFO queue with the same\ncounts, and simulated leaky mixes; each must fail. Exit 0: every configuration passed; 1: one\nfailed its promise; 65: a control passed, so the audit is invalid. About 6 minutes; --quick\nabout 2.\n\n--only judges one configuration at the demo load (batch: the default mix; off: mixing off;\nfifo: a FIFO queue with the default's counts) and exits 0 only if it keeps the default's promise.",
  version:
    'usage: sealmix version    (or sealmix --version)\n\nPrints "sealmix VERSION (COMMIT)": the version from package.json and, where sealmix runs from a\ngit checkout, its commit.',
  'standin-homeserver':
    'usage: sealmix standin-homeserver --config FILE --port N [--host ADDR]\n\nA fake Matrix homeserver (whoami, sendToDevice as an application service, to-device /sync) for\nthe devnet and tests. FILE: {"serverName", "asToken", "users": [{"userId", "deviceId", "accessToken"}]}.'
}
