// An Element-like Matrix client, driven over JSON lines, for Curbside's interop tests.
//
// Why this exists: Curbside's bots use matrix-nio/vodozemac, but clinicians use
// Element, whose crypto is matrix-rust-sdk (here via matrix-js-sdk + the
// matrix-sdk-crypto-wasm build that Element Web ships). This process behaves
// like current Element: rust crypto, cross-signing and secret storage set up
// on first login, and the strict "only send keys to cross-signed devices"
// isolation mode. If a Curbside device is not cross-signed, this client will
// not share room keys with it and will refuse to decrypt what it sends.
//
// Protocol (one JSON object per line):
//   stdin  -> {"id": 1, "cmd": "login", ...}        commands, see COMMANDS below
//   stdout <- {"id": 1, "ok": true, "result": {...}} one reply per command
//   stdout <- {"id": 1, "ok": false, "error": "..."}  on failure or timeout
//   stdout <- {"event": "message", ...}               every room message from
//            someone else, re-sent when its decryption state changes
//   stdout <- {"event": "ready"}                      once, at start
// Everything else (SDK logs, diagnostics) goes to stderr, so stdout stays
// machine-readable.

// Node 20 lacks Promise.withResolvers, which matrix-js-sdk uses.
if (typeof Promise.withResolvers !== "function") {
    Promise.withResolvers = () => { let resolve, reject; const promise = new Promise((res, rej) => { resolve = res; reject = rej; }); return { promise, resolve, reject }; };
}

import { createInterface } from "node:readline";
import { webcrypto, createHash } from "node:crypto";

// The SDK logs through console.*; keep stdout for the protocol alone.
for (const level of ["log", "info", "debug", "trace", "warn"]) {
    console[level] = (...args) => console.error(...args);
}

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");

logger.setLevel(process.env.INTEROP_SDK_LOG_LEVEL ?? "warn");

const DEFAULT_TIMEOUT_MS = 30_000;

/** Emit one protocol line on stdout. */
function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

/** Reject with a descriptive error if `promise` does not settle within `ms`. */
function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Poll `predicate` (sync or async) until it returns truthy, or fail after `ms`. */
async function waitUntil(predicate, ms, what) {
    const deadline = Date.now() + ms;
    for (;;) {
        const value = await predicate();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

function unpaddedBase64Decode(text) {
    return Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** State of the single logged-in session this process drives. */
const state = {
    client: null,
    password: null,
};

function requireClient() {
    if (!state.client) throw new Error("not logged in: send a 'login' command first");
    return state.client;
}

/** Answer Synapse's user-interactive auth with the account password, as Element's dialog does. */
async function passwordAuth(makeRequest) {
    const client = requireClient();
    const auth = {
        type: "m.login.password",
        identifier: { type: "m.id.user", user: client.getUserId() },
        password: state.password,
    };
    try {
        await makeRequest(null);
    } catch (err) {
        const session = err?.data?.session;
        if (err?.httpStatus !== 401 || !session) throw err;
        await makeRequest({ ...auth, session });
    }
}

/** Report one room message (decrypted, failed, or plain) to the driver. */
async function reportMessage(event) {
    const client = state.client;
    if (!client || event.getSender() === client.getUserId()) return;
    if (event.isBeingDecrypted() || event.shouldAttemptDecryption()) return; // a later Decrypted event reports it
    const type = event.getType();
    if (type !== "m.room.message" && type !== "m.room.encrypted") return;
    const content = event.getContent();
    const failed = event.isDecryptionFailure();
    let shield = null;
    if (event.isEncrypted() && !failed) {
        shield = await client.getCrypto().getEncryptionInfoForEvent(event);
    }
    emit({
        event: "message",
        room_id: event.getRoomId(),
        event_id: event.getId(),
        sender: event.getSender(),
        encrypted: event.isEncrypted(),
        decryption_failed: failed,
        failure_reason: failed ? event.decryptionFailureReason ?? null : null,
        msgtype: failed ? null : content.msgtype ?? null,
        body: failed ? null : content.body ?? null,
        has_file: !failed && typeof content.file === "object" && content.file !== null,
        shield_colour: shield ? cryptoApi.EventShieldColour[shield.shieldColour] : null,
        shield_reason: shield?.shieldReason != null ? cryptoApi.EventShieldReason[shield.shieldReason] : null,
    });
}

function reportSafely(event) {
    reportMessage(event).catch((err) => console.error("failed to report event", event.getId(), err));
}

/** Log in, set up rust crypto, cross-signing, secret storage and strict isolation. */
async function login({ homeserver, user, password, timeout_ms = DEFAULT_TIMEOUT_MS }) {
    if (state.client) throw new Error("already logged in");
    const bare = sdk.createClient({ baseUrl: homeserver });
    const creds = await withTimeout(
        bare.loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user },
            password,
            initial_device_display_name: "Element interop client",
        }),
        timeout_ms,
        `password login as ${user}`,
    );
    bare.stopClient();

    let secretStorageKey = null; // [keyId, privateKey] once created
    const client = sdk.createClient({
        baseUrl: homeserver,
        userId: creds.user_id,
        deviceId: creds.device_id,
        accessToken: creds.access_token,
        cryptoCallbacks: {
            getSecretStorageKey: async ({ keys }) => {
                if (!secretStorageKey) return null;
                const keyId = Object.keys(keys).find((id) => id === secretStorageKey[0]) ?? null;
                return keyId ? secretStorageKey : null;
            },
            cacheSecretStorageKey: (keyId, _info, privateKey) => {
                secretStorageKey = [keyId, privateKey];
            },
        },
    });
    state.client = client;
    state.password = password;

    await client.initRustCrypto({ useIndexedDB: false });
    const crypto = client.getCrypto();

    client.on(sdk.RoomEvent.Timeline, (event, _room, toStartOfTimeline) => {
        if (!toStartOfTimeline) reportSafely(event);
    });
    client.on(sdk.MatrixEventEvent.Decrypted, (event) => reportSafely(event));

    const prepared = new Promise((resolve, reject) => {
        client.on(sdk.ClientEvent.Sync, (syncState, _prev, data) => {
            if (syncState === "PREPARED" || syncState === "SYNCING") resolve();
            if (syncState === "ERROR") reject(new Error(`sync failed: ${data?.error?.message ?? "unknown"}`));
        });
    });
    await client.startClient({ initialSyncLimit: 20 });
    await withTimeout(prepared, timeout_ms, "the first sync");

    if (await crypto.userHasCrossSigningKeys(creds.user_id, true)) {
        throw new Error(
            `${creds.user_id} already has cross-signing keys; this client only sets up fresh accounts ` +
                "(it would need the recovery key to reuse them)",
        );
    }
    await withTimeout(
        crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth }),
        timeout_ms,
        "cross-signing bootstrap",
    );
    await withTimeout(
        crypto.bootstrapSecretStorage({
            createSecretStorageKey: () => crypto.createRecoveryKeyFromPassphrase(),
            setupNewSecretStorage: true,
        }),
        timeout_ms,
        "secret storage bootstrap",
    );
    crypto.setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());

    const status = await crypto.getCrossSigningStatus();
    return {
        user_id: creds.user_id,
        device_id: creds.device_id,
        cross_signing_ready: await crypto.isCrossSigningReady(),
        secret_storage_ready: await crypto.isSecretStorageReady(),
        cross_signing_public_keys_on_device: status.publicKeysOnDevice,
        isolation_mode: "OnlySignedDevicesIsolationMode",
    };
}

/** Join (or accept an invite to) a room and wait until we know it is encrypted. */
async function join({ room, timeout_ms = DEFAULT_TIMEOUT_MS }) {
    const client = requireClient();
    const joined = await withTimeout(client.joinRoom(room), timeout_ms, `joining ${room}`);
    const roomId = joined.roomId;
    await waitUntil(
        () => client.getRoom(roomId)?.getMyMembership() === "join",
        timeout_ms,
        `our join to ${roomId} to come down sync`,
    );
    await waitUntil(
        () => client.getCrypto().isEncryptionEnabledInRoom(roomId),
        timeout_ms,
        `${roomId} to be known as encrypted`,
    );
    return { room_id: roomId };
}

/**
 * Wait until our crypto knows `device_id` of `user_id`, cross-signed by its owner or not.
 *
 * Key sharing and the decryption trust check read the device list at that
 * moment; waiting here makes a test independent of when a device-list update
 * reaches this client's sync, and lets a test show that a device was known
 * (not merely missing) when keys were withheld from it.
 */
async function waitDevice({ user_id, device_id, cross_signed, timeout_ms = DEFAULT_TIMEOUT_MS }) {
    if (typeof cross_signed !== "boolean") throw new Error("cross_signed must be true or false");
    const crypto = requireClient().getCrypto();
    await crypto.getUserDeviceInfo([user_id], true);
    const status = await waitUntil(
        async () => {
            const s = await crypto.getDeviceVerificationStatus(user_id, device_id);
            return s && s.signedByOwner === cross_signed ? s : null;
        },
        timeout_ms,
        `device ${device_id} of ${user_id} to be known with signedByOwner=${cross_signed}`,
    );
    return { signed_by_owner: status.signedByOwner, cross_signing_verified: status.crossSigningVerified };
}

/** Send an encrypted m.text; refuses outright if the room is not encrypted. */
async function send({ room_id, body, timeout_ms = DEFAULT_TIMEOUT_MS }) {
    const client = requireClient();
    if (!(await client.getCrypto().isEncryptionEnabledInRoom(room_id))) {
        throw new Error(`refusing to send: ${room_id} is not an encrypted room (join it first)`);
    }
    const res = await withTimeout(
        client.sendMessage(room_id, { msgtype: "m.text", body }),
        timeout_ms,
        "the message to be sent",
    );
    return { event_id: res.event_id };
}

/** Fetch and decrypt an m.file attachment the way Element does (v2 AES-CTR, SHA-256 checked). */
async function downloadFile({ room_id, event_id, timeout_ms = DEFAULT_TIMEOUT_MS }) {
    const client = requireClient();
    const event = client.getRoom(room_id)?.findEventById(event_id);
    if (!event) throw new Error(`event ${event_id} is not in our timeline of ${room_id}`);
    if (event.isDecryptionFailure()) throw new Error(`event ${event_id} could not be decrypted`);
    const content = event.getContent();
    const file = content.file;
    if (!file || !file.url || !file.key || !file.iv || !file.hashes?.sha256) {
        throw new Error(`event ${event_id} has no encrypted 'file' (url, key, iv, hashes.sha256)`);
    }
    if (file.v !== "v2") throw new Error(`unsupported encrypted attachment version ${JSON.stringify(file.v)}`);

    const url = client.mxcUrlToHttp(file.url, undefined, undefined, undefined, false, true, true);
    const response = await withTimeout(
        fetch(url, { headers: { Authorization: `Bearer ${client.getAccessToken()}` } }),
        timeout_ms,
        `download of ${file.url}`,
    );
    if (!response.ok) throw new Error(`download of ${file.url} failed: HTTP ${response.status}`);
    const ciphertext = new Uint8Array(
        await withTimeout(response.arrayBuffer(), timeout_ms, `the body of ${file.url}`),
    );

    const actualHash = createHash("sha256").update(ciphertext).digest();
    if (!actualHash.equals(unpaddedBase64Decode(file.hashes.sha256))) {
        throw new Error("ciphertext SHA-256 does not match file.hashes.sha256");
    }
    const key = await webcrypto.subtle.importKey("jwk", file.key, { name: "AES-CTR" }, false, ["decrypt"]);
    const plaintext = new Uint8Array(
        await webcrypto.subtle.decrypt(
            { name: "AES-CTR", counter: unpaddedBase64Decode(file.iv), length: 64 },
            key,
            ciphertext,
        ),
    );
    return {
        body: content.body ?? null,
        mimetype: content.info?.mimetype ?? null,
        size: plaintext.length,
        sha256: createHash("sha256").update(plaintext).digest("hex"),
    };
}

/** Stop syncing and exit cleanly. */
async function quit() {
    state.client?.stopClient();
    setTimeout(() => process.exit(0), 50);
    return {};
}

const COMMANDS = {
    login,
    join,
    wait_device: waitDevice,
    send,
    download_file: downloadFile,
    quit,
};

async function handleLine(line) {
    if (!line.trim()) return;
    let request;
    try {
        request = JSON.parse(line);
    } catch (err) {
        emit({ id: null, ok: false, error: `bad JSON on stdin: ${err.message}` });
        return;
    }
    const { id = null, cmd, ...args } = request;
    const handler = COMMANDS[cmd];
    if (!handler) {
        emit({ id, ok: false, error: `unknown command ${JSON.stringify(cmd)}; known: ${Object.keys(COMMANDS).join(", ")}` });
        return;
    }
    try {
        emit({ id, ok: true, result: await handler(args) });
    } catch (err) {
        console.error(`command ${cmd} failed:`, err);
        emit({ id, ok: false, error: `${cmd}: ${err?.message ?? String(err)}` });
    }
}

// A stray SDK promise rejection should be visible, not fatal to the whole session.
process.on("unhandledRejection", (reason) => console.error("unhandled rejection:", reason));

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => void handleLine(line));
rl.on("close", () => {
    state.client?.stopClient();
    process.exit(0);
});
emit({ event: "ready" });
