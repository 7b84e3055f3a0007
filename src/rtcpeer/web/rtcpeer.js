// rtcpeer.js: the browser side of the rtcpeer signaling server.
//
// SignalingChannel  - the object MDN's perfect-negotiation example calls `signaler`: send({...})
//                     and "message" events whose `data` is the parsed object; reconnects with
//                     backoff under the same peer id.
// perfectNegotiation(pc, signaler, {polite, to}) - MDN's perfect negotiation pattern, returns
//                     the handler for incoming {description, candidate} messages.
// RoomConnection    - one RTCPeerConnection to the other peer of a two-party room, rebuilt when
//                     that peer leaves and another joins. The pages only add channels or tracks.
// sha256Hex(bytes)  - SHA-256, also where crypto.subtle is missing (plain http between machines).

const FINAL_CODES = new Set([1000, 1002, 1003, 1007, 1008, 1009, 1010, 4000, 4400, 4401, 4404, 4409]);

export function defaultSignalingUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

export function roomFromLocation() {
  return new URLSearchParams(location.search).get("room");
}

// Ask the server for a fresh room token and put it in the address bar so it can be shared.
export async function ensureRoom() {
  let room = roomFromLocation();
  if (!room) {
    const response = await fetch("/rooms", { method: "POST" });
    room = (await response.json()).room;
    const url = new URL(location.href);
    url.searchParams.set("room", room);
    history.replaceState(null, "", url);
  }
  return room;
}

export class SignalingChannel extends EventTarget {
  #url; #room; #token; #ws = null; #ready = false; #closing = false; #buffer = [];
  #delay = 100; #peerId; #older = new Set(); #peers = []; #iceServers = []; #opened = null;

  constructor(room, { url = defaultSignalingUrl(), peerId = null, token = null } = {}) {
    super();
    this.#room = room;
    this.#url = url;
    this.#peerId = peerId;
    this.#token = token;
  }

  get peerId() { return this.#peerId; }
  get room() { return this.#room; }
  // Perfect-negotiation role: polite while a peer that joined earlier is in the room.
  get polite() { return this.#older.size > 0; }
  politeToward(peer) { return this.#older.has(peer); }
  get peers() { return [...this.#peers]; }
  get iceServers() { return this.#iceServers; }
  get connected() { return this.#ready; }

  connect() {
    if (!this.#opened) {
      this.#opened = {};
      this.#opened.promise = new Promise((resolve, reject) => {
        this.#opened.resolve = resolve;
        this.#opened.reject = reject;
      });
      this.#open();
    }
    return this.#opened.promise;
  }

  send(message) {
    const text = JSON.stringify(message);
    if (this.#ready && this.#buffer.length === 0) this.#ws.send(text);
    else this.#buffer.push(text);
  }

  close() {
    this.#closing = true;
    this.#ready = false;
    if (this.#ws) this.#ws.close(1000);
    this.dispatchEvent(new CustomEvent("close", { detail: { code: 1000, reason: "closed" } }));
  }

  #open() {
    const params = new URLSearchParams({ room: this.#room });
    if (this.#peerId) params.set("peer", this.#peerId);
    if (this.#token) params.set("token", this.#token);
    const ws = new WebSocket(`${this.#url}?${params}`);
    this.#ws = ws;
    let welcomed = false;
    let refusal = "";
    ws.onmessage = (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch { return; }
      if (!data || typeof data !== "object") return;
      if (!welcomed) {
        if (data.type === "welcome") { welcomed = true; this.#welcome(data); }
        else if (data.type === "error") refusal = data.error;
        return;
      }
      if (data.type === "joined" && !this.#peers.includes(data.peer)) this.#peers.push(data.peer);
      if (data.type === "left") {
        this.#peers = this.#peers.filter((p) => p !== data.peer);
        this.#older.delete(data.peer);
      }
      this.dispatchEvent(new MessageEvent("message", { data }));
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ready = false;
      if (this.#closing) return;
      // Refusals are final, and so is a first connection that never got in: report, not retry.
      if (FINAL_CODES.has(event.code) || !this.#everWelcomed) {
        const reason = refusal || event.reason || `connection closed (${event.code})`;
        if (this.#opened.resolve) this.#opened.reject(new Error(reason));
        this.#closing = true;
        this.dispatchEvent(new CustomEvent("close", { detail: { code: event.code, reason } }));
        return;
      }
      const delay = this.#delay * (0.8 + 0.4 * Math.random());
      this.#delay = Math.min(this.#delay * 2, 10000);
      this.dispatchEvent(new CustomEvent("reconnecting", { detail: { delay, code: event.code } }));
      setTimeout(() => { if (!this.#closing) this.#open(); }, delay);
    };
  }

  #everWelcomed = false;

  #welcome(data) {
    this.#peerId = data.peer;
    this.#everWelcomed = true;
    this.#iceServers = data.iceServers || [];
    this.#peers = data.peers || [];
    this.#older = new Set(data.politeTo || []);
    this.#delay = 100;
    for (const text of this.#buffer) this.#ws.send(text);
    this.#buffer = [];
    this.#ready = true;
    if (this.#opened.resolve) { this.#opened.resolve(data); this.#opened.resolve = null; }
    this.dispatchEvent(new CustomEvent("open", { detail: data }));
  }
}

// MDN "Perfect negotiation": both peers run the same code; the impolite one wins offer
// collisions, the polite one rolls back. Returns the handler for incoming messages.
// `beforeAnswer()` (optional) runs after a remote offer is applied and before the answer is made:
// tracks and negotiated channels added there ride on the offered m-lines, no new round needed.
export function perfectNegotiation(
  pc, signaler, { polite, to = undefined, log = console.log, beforeAnswer = null },
) {
  let makingOffer = false;
  let ignoreOffer = false;
  let isSettingRemoteAnswerPending = false;

  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      await pc.setLocalDescription();
      signaler.send({ description: pc.localDescription, to });
    } catch (err) {
      log(`negotiation failed: ${err}`);
    } finally {
      makingOffer = false;
    }
  };
  pc.onicecandidate = ({ candidate }) => signaler.send({ candidate, to });
  // MDN: restart ICE when it fails; the restart offer goes through onnegotiationneeded above.
  pc.addEventListener("iceconnectionstatechange", () => {
    if (pc.iceConnectionState === "failed") pc.restartIce();
  });

  return async function handle({ description, candidate }) {
    try {
      if (description) {
        const readyForOffer =
          !makingOffer && (pc.signalingState === "stable" || isSettingRemoteAnswerPending);
        const offerCollision = description.type === "offer" && !readyForOffer;
        ignoreOffer = !polite && offerCollision;
        if (ignoreOffer) return;
        isSettingRemoteAnswerPending = description.type === "answer";
        await pc.setRemoteDescription(description);
        isSettingRemoteAnswerPending = false;
        if (description.type === "offer") {
          if (beforeAnswer) beforeAnswer();
          await pc.setLocalDescription();
          signaler.send({ description: pc.localDescription, to });
        }
      } else if (candidate) {
        try {
          await pc.addIceCandidate(candidate);
        } catch (err) {
          if (!ignoreOffer) throw err;
        }
      }
    } catch (err) {
      log(`signaling message failed: ${err}`);
    }
  };
}

// A two-party room: one RTCPeerConnection to "the other peer", made when it is there and made
// again when it leaves and someone else joins. `setup(pc, peer)` adds channels and tracks: at once
// on the newcomer's side, while answering the newcomer's offer on the other side.
// Events: "status" (detail: text), "peergone" (detail: {peer}), and "peer" (detail: {pc, peer})
// as soon as the connection exists: the place for handlers such as pc.ontrack.
export class RoomConnection extends EventTarget {
  constructor(room, { setup, token = null, url = undefined } = {}) {
    super();
    this.setup = setup;
    this.signaler = new SignalingChannel(room, { token, url });
    this.pc = null;
    this.remote = null;
    this.handle = null;
    this.signaler.addEventListener("open", () => {
      this.status(`in room as ${this.signaler.peerId} (${this.signaler.polite ? "polite" : "impolite"})`);
      const peers = this.signaler.peers;
      if (this.remote && !peers.includes(this.remote)) this.#stop();
      if (!this.remote && peers.length) this.#start(peers[0]);
    });
    this.signaler.addEventListener("message", ({ data }) => this.#onMessage(data));
    this.signaler.addEventListener("reconnecting", () => this.status("signaling lost, reconnecting..."));
    this.signaler.addEventListener("close", ({ detail }) => this.status(`signaling closed: ${detail.reason}`));
  }

  status(text) {
    this.dispatchEvent(new CustomEvent("status", { detail: text }));
  }

  connect() {
    return this.signaler.connect();
  }

  close() {
    this.#stop();
    this.signaler.close();
  }

  #onMessage(msg) {
    if (msg.type === "joined") {
      if (!this.remote) this.#start(msg.peer);
      return;
    }
    if (msg.type === "left") {
      if (msg.peer === this.remote) {
        this.#stop();
        const next = this.signaler.peers[0];
        if (next) this.#start(next);
      }
      return;
    }
    if (msg.type === "error") {
      this.status(`server: ${msg.error}`);
      return;
    }
    if (!msg.from) return;
    if (!this.remote && msg.description) this.#start(msg.from);
    if (msg.from === this.remote) this.handle(msg);
  }

  #start(peer) {
    this.status(`starting a connection with ${peer}`);
    this.remote = peer;
    const pc = new RTCPeerConnection({ iceServers: this.signaler.iceServers });
    this.pc = pc;
    const polite = this.signaler.politeToward(peer);
    // The newcomer (polite) makes the first offer; the peer already in the room adds its
    // channels and tracks while answering it. Perfect negotiation copes with both sides offering
    // at once, but Chromium sometimes stops gathering after rolling back an offer made at the
    // very moment the other offer arrived, so the pages avoid that race when they can.
    let ready = false;
    const setup = () => {
      if (ready || this.pc !== pc) return;
      ready = true;
      this.setup(pc, peer);
    };
    this.handle = perfectNegotiation(pc, this.signaler, {
      polite, to: peer, log: (text) => this.status(text), beforeAnswer: setup,
    });
    pc.onconnectionstatechange = () => this.status(`connection with ${peer}: ${pc.connectionState}`);
    this.dispatchEvent(new CustomEvent("peer", { detail: { pc, peer } }));
    if (polite) setup();
  }

  #stop() {
    if (!this.pc) return;
    const peer = this.remote;
    this.pc.close();
    this.pc = null;
    this.remote = null;
    this.handle = null;
    this.dispatchEvent(new CustomEvent("peergone", { detail: { peer } }));
  }
}

// SHA-256 (FIPS 180-4), for pages served over plain http where crypto.subtle does not exist.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256Fallback(bytes) {
  const length = bytes.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}

export async function sha256Hex(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (globalThis.crypto && crypto.subtle) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(digest, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  return sha256Fallback(bytes);
}

export { sha256Fallback };

// Append a line to a log element, newest last.
export function logTo(element, text) {
  const line = document.createElement("div");
  line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  element.append(line);
  element.scrollTop = element.scrollHeight;
}
