// The administration page (admin.html): the roster, who answers for each building, the
// accounts and API tokens. console.js (loaded first) gives t() and translate().
const TEXT = {
  zh: {title: "社区管理", board: "值班台", roster: "名册", version: "版本",
       pushed: "每次保存后立即发给本社区的网关", residents: "老人", id: "编号", name: "姓名",
       room: "房间", address: "住址", phone: "电话", save: "保存", watches: "手表",
       resident: "老人", label: "说明", key: "钥匙", insecure: "无加密按钮", keep: "不变",
       generate: "生成新钥匙", set: "输入钥匙", key_hex: "钥匙（32 位十六进制）",
       sensors: "活动传感器", kind: "类型", place: "位置", motion: "人体感应", door: "门窗",
       contacts: "联系人", role: "身份", tier: "级别", serves: "负责", everyone: "（不限一位老人）",
       always_sms: "每次都发短信", call: "短信后电话提醒", call_never: "不打",
       call_night: "仅夜间", call_always: "每次", grid_worker: "网格员", neighbour: "邻居",
       duty_desk: "值班台", family: "家属", buildings: "楼栋", duty: "楼栋负责人", hub: "网关",
       building: "楼栋", building_name: "名称", serves_building: "或负责楼栋", show: "显示楼栋", all: "全部楼栋",
       own: "（听到的网关所在楼）", whole_community: "全社区",
       first: "第一负责人", backup: "备岗", log: "最近的修改", people: "账号",
       username: "用户名", contact: "联系人编号", desk: "值班员", worker: "网格员",
       admin: "管理员", add_person: "添加账号", new_password: "新密码", tokens: "接口令牌", token_id: "编号",
       made: "创建于", token_name: "用途", add_token: "新建令牌", edit: "修改",
       remove: "删除", revoke: "作废", lang: "English", has_key: "已设置", no_key: "无",
       saved: "已保存，版本 {v}，已发给 {n} 个网关。", new_key: "新钥匙（只显示这一次，请写入手表）：",
       new_sensors_key: "新钥匙（只显示这一次，请写入传感器）：",
       password: "{u} 的密码（只显示这一次）：", token: "新令牌（只显示这一次）：",
       waiting: "名册还没有{x}，补齐后才会发给网关。", not_sent: "暂不发给网关，因为有人会收不到求助：{x}", "watches and contacts": "手表和联系人",
       replace_key: "更换钥匙后，手表要重新写入新钥匙才能被网关听到。确定？",
       replace_sensors_key: "更换钥匙后，传感器要重新写入新钥匙才能被网关听到，在此之前关怀提醒不会因它触发。确定？",
       push_failed: "已保存，但现在没能发给网关（{x}）；网关下次联系时会收到。",
       removed: "已删除。", assigned: "{h}：第一负责人 {f}，备岗 {b}，已保存。", revoked: "已作废：{n}", sure: "确定删除 {x}？", none: "（无）"},
  en: {title: "Community admin", board: "Duty desk", roster: "Roster", version: "version",
       pushed: "each save is sent to this community's hubs at once", residents: "Residents",
       id: "id", name: "name", room: "room", address: "address", phone: "phone", save: "Save",
       watches: "Watches", resident: "resident", label: "label", key: "key",
       insecure: "plaintext-only button", keep: "keep", generate: "generate a new key",
       set: "enter a key", key_hex: "key (32 hex digits)", contacts: "Contacts", role: "role",
       sensors: "Activity sensors", kind: "kind", place: "place", motion: "motion",
       door: "door or window",
       tier: "tier", serves: "serves", everyone: "(not one resident)", always_sms: "text on every alert",
       call: "ring call after the text", call_never: "never", call_night: "at night only",
       call_always: "always",
       grid_worker: "grid worker", neighbour: "neighbour", duty_desk: "duty desk",
       family: "family", buildings: "Buildings", duty: "Who answers for each building", hub: "hub",
       building: "building", building_name: "name", serves_building: "or serves building", show: "Show building",
       all: "all buildings", own: "(the hearing hub's)", whole_community: "the whole community",
       first: "first worker", backup: "backup", log: "Latest changes", people: "Accounts",
       username: "username", contact: "contact id", desk: "duty desk", worker: "worker",
       admin: "administrator", add_person: "Add an account", new_password: "New password", tokens: "API tokens",
       token_id: "id", made: "made", token_name: "used by", add_token: "New token",
       edit: "Edit", remove: "Remove", revoke: "Revoke", lang: "中文", has_key: "set",
       no_key: "none", saved: "Saved as version {v}; sent to {n} hub(s).",
       new_key: "New key (shown only now; program it into the watch): ",
       new_sensors_key: "New key (shown only now; program it into the sensor): ",
       password: "Password for {u} (shown only now): ", token: "New token (shown only now): ",
       waiting: "The roster has no {x} yet; the hubs get it once it has.",
       not_sent: "Not sent to the hubs, as someone's alerts would reach nobody: {x}",
       replace_key: "With a new key, the hubs hear this watch only once the new key is programmed into it. Go on?",
       replace_sensors_key: "With a new key, the hubs hear this sensor (and its welfare checks) only once the new key is programmed into it. Go on?",
       push_failed: "Saved, but it could not be sent to the hubs now ({x}); they get it when they next report in.",
       removed: "Removed.", assigned: "{h}: first worker {f}, backup {b}; saved.", revoked: "Revoked: {n}", sure: "Remove {x}?", none: "(none)"},
};
let lang = localStorage.getItem("lang") || "zh";
const csrf = document.querySelector('meta[name="csrf"]').content;
const KEYED = ["watches", "sensors"];  // tables of devices: a MAC and a key kept by the server
let roster = {residents: [], watches: [], contacts: [], buildings: [], sensors: [], duty: []};
function tell(text, secret) {
  const box = document.getElementById("message");
  box.replaceChildren(text);
  if (secret) { const code = document.createElement("span"); code.className = "secret"; code.textContent = secret; box.append(code); }
  box.hidden = false; document.getElementById("error").hidden = true;
}
function fail(text) {
  const box = document.getElementById("error");
  box.textContent = text; box.hidden = false; document.getElementById("message").hidden = true;
}
async function call(method, path, body) {
  const answer = await fetch(path, {method, headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"},
                                    body: body === undefined ? undefined : JSON.stringify(body)});
  if (answer.status === 401) { location.href = "/login"; return null; }
  const reply = await answer.json();
  if (!answer.ok) { fail(reply.error); return null; }
  return reply;
}
function cell(row, text) { const td = row.insertCell(); td.textContent = text ?? ""; return td; }
function button(label, className, action) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = t(label); b.className = className; b.onclick = action;
  return b;
}
function fill(form, entry) {
  for (const input of form.elements) {
    if (!input.name || input.name === "key_hex") continue;
    if (input.type === "checkbox") input.checked = !!entry[input.name];
    else if (input.name === "key") input.value = "keep";
    else input.value = entry[input.name] ?? input.dataset.default ?? "";
  }
  form.scrollIntoView();
}
function options(select, items, everyone) {
  const chosen = select.value;
  select.replaceChildren();
  const first = {"1": select.classList.contains("buildings") ? "whole_community" : "everyone",
                 all: "all", own: "own"}[everyone];
  if (first) select.add(new Option(t(first), ""));
  else if (select.classList.contains("contacts")) select.add(new Option(t("none"), ""));
  for (const [value, text] of items) select.add(new Option(text, value));
  if ([...select.options].some(option => option.value === chosen)) select.value = chosen;
}
function rosterTable(kind, columns, shown) {
  const body = document.querySelector(`#${kind} tbody`);
  body.replaceChildren();
  const key = KEYED.includes(kind) ? "mac" : "id";
  for (const entry of roster[kind].filter(shown || (() => true))) {
    const row = body.insertRow();
    row.dataset.id = entry[key];
    for (const column of columns) cell(row, column(entry));
    const acts = row.insertCell();
    acts.append(button("edit", "edit", () => fill(document.querySelector(`form[data-kind="${kind}"]`), entry)),
                button("remove", "remove", async () => {
                  if (!confirm(t("sure", {x: entry[key]}))) return;
                  const done = await call("DELETE", `/api/roster/${kind}/${encodeURIComponent(entry[key])}`);
                  if (done) { tell(saved(done)); loadRoster(); }
                }));
  }
}
async function loadRoster() {
  const [found, hubs] = await Promise.all([call("GET", "/api/roster"), call("GET", "/api/hubs")]);
  if (!found) return;
  roster = found;
  document.getElementById("version").textContent = found.version || t("none");
  const resident = id => found.residents.find(r => r.id === id) || {};
  const name = id => resident(id).name || id;
  const building = id => (found.buildings.find(b => b.id === id) || {}).name || id;
  const hubIds = (hubs || []).map(h => h.hub);
  document.getElementById("hubs").replaceChildren(...hubIds.map(hub => new Option(hub, hub)));
  document.querySelectorAll("select.buildings").forEach(select =>
    options(select, found.buildings.map(b => [b.id, `${b.name} (${b.id})`]), select.dataset.everyone));
  const show = document.getElementById("show").value;
  const lives = r => !show || r.building === show;
  rosterTable("buildings", [b => b.id, b => b.name, b => b.address], b => !show || b.id === show);
  rosterTable("residents", [r => r.id, r => r.name, r => r.building ? building(r.building) : t("own"),
                            r => r.room, r => r.address, r => r.phone], lives);
  rosterTable("watches", [w => w.mac, w => name(w.resident), w => w.label,
                          w => w.insecure ? t("insecure") : w.key_set ? t("has_key") : t("no_key")],
              w => lives(resident(w.resident)));
  rosterTable("sensors", [s => s.mac, s => name(s.resident), s => t(s.kind), s => s.place,
                          s => s.key_set ? t("has_key") : t("no_key")],
              s => lives(resident(s.resident)));
  rosterTable("contacts", [c => c.id, c => c.name, c => c.phone, c => t(c.role), c => c.tier,
                           c => c.resident ? name(c.resident) : c.building ? building(c.building) : t("whole_community")],
              c => !show || (c.resident ? lives(resident(c.resident)) : !c.building || c.building === show));
  const living = found.residents.filter(lives);
  document.querySelectorAll("select.residents").forEach(select =>
    options(select, living.map(r => [r.id, `${r.name} (${r.room})`]), select.dataset.everyone));
  document.querySelectorAll("select.contacts").forEach(select =>
    options(select, found.contacts.map(c => [c.id, `${c.name} (${c.id})`])));
  const log = document.getElementById("log");
  log.replaceChildren(...found.log.map(line => {
    const item = document.createElement("li");
    item.textContent = `${new Date(line.at * 1000).toLocaleString(lang === "en" ? "en-GB" : "zh-CN", {hour12: false})} · ${line.by} · ${line.what}`;
    return item;
  }));
  const assigned = Object.fromEntries(found.duty.map(b => [b.hub, b]));
  const names = new Set([...hubIds, ...found.buildings.map(b => b.id), ...Object.keys(assigned)]);
  const body = document.querySelector("#duty tbody");
  body.replaceChildren();
  for (const hub of [...names].sort().filter(hub => !show || hub === show)) {
    const row = body.insertRow();
    row.dataset.hub = hub;
    cell(row, hub === building(hub) ? hub : `${building(hub)} (${hub})`);
    const pick = which => {
      const select = document.createElement("select");
      select.className = which;
      options(select, found.contacts.map(c => [c.id, `${c.name} (${c.id})`]), false);
      select.add(new Option("—", ""), 0);
      select.value = (assigned[hub] || {})[which] || "";
      row.insertCell().append(select);
      return select;
    };
    const first = pick("first"), backup = pick("backup");
    row.insertCell().append(button("save", "save", async () => {
      const done = await call("PUT", `/api/buildings/${encodeURIComponent(hub)}`,
                              {first: first.value, backup: backup.value});
      if (done) tell(t("assigned", {h: hub, f: first.value, b: backup.value}));
    }));
  }
}
async function loadPeople() {
  const found = await call("GET", "/api/people");
  if (!found) return;
  const body = document.querySelector("#people tbody");
  body.replaceChildren();
  for (const person of found.people) {
    const row = body.insertRow();
    row.dataset.username = person.username;
    for (const text of [person.username, person.name, t(person.role), person.contact]) cell(row, text);
    const acts = row.insertCell();
    acts.append(button("new_password", "new-password", async () => {
      const done = await call("POST", `/api/people/${encodeURIComponent(person.username)}/password`);
      if (done) tell(t("password", {u: done.username}), done.password);
    }));
    if (person.username !== found.me) acts.append(button("remove", "remove", async () => {
      if (!confirm(t("sure", {x: person.username}))) return;
      if (await call("DELETE", `/api/people/${encodeURIComponent(person.username)}`)) { tell(t("removed")); loadPeople(); }
    }));
  }
  const tokens = document.querySelector("#tokens tbody");
  tokens.replaceChildren();
  for (const token of found.tokens) {
    const row = tokens.insertRow();
    row.dataset.token = token.id;
    for (const text of [token.id, token.name, new Date(token.created_at * 1000).toLocaleDateString()]) cell(row, text);
    row.insertCell().append(button("revoke", "revoke", async () => {
      const done = await call("DELETE", `/api/tokens/${token.id}`);
      if (done) { tell(t("revoked", {n: done.revoked})); loadPeople(); }
    }));
  }
}
function saved(done) {
  if (done.push_failed) return t("push_failed", {x: done.push_failed});
  const text = t("saved", {v: done.version, n: done.hubs_told});
  if (done.not_sent) return `${text} ${t("not_sent", {x: done.not_sent})}`;
  return done.waiting_for ? `${text} ${t("waiting", {x: t(done.waiting_for)})}` : text;
}
function values(form) {
  const entry = {};
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === "checkbox") { if (input.checked) entry[input.name] = true; }
    else if (input.type === "number") entry[input.name] = Number(input.value);
    else if (input.value !== "") entry[input.name] = input.value.trim();
  }
  return entry;
}
document.querySelectorAll("form[data-kind]").forEach(form => {
  form.onsubmit = async event => {
    event.preventDefault();
    const entry = values(form), body = {entry};
    const kind = form.dataset.kind, keyed = KEYED.includes(kind);
    if (keyed) {
      body.key = entry.key || "keep"; body.key_hex = entry.key_hex || "";
      delete entry.key; delete entry.key_hex;
      const same = mac => mac.replace(/[-:]/g, "").toUpperCase();
      const known = roster[kind].some(d => same(d.mac) === same(entry.mac || "") && d.key_set);
      const ask = kind === "watches" ? "replace_key" : "replace_sensors_key";
      if (body.key !== "keep" && known && !confirm(t(ask))) return;
    }
    const done = await call("POST", `/api/roster/${kind}`, body);
    if (!done) return;
    const shown = kind === "watches" ? "new_key" : "new_sensors_key";
    tell(saved(done) + (done.key ? " " + t(shown) : ""), done.key);
    form.reset();
    loadRoster();
  };
});
document.getElementById("person-form").onsubmit = async event => {
  event.preventDefault();
  const asked = values(event.target);
  const done = await call("POST", "/api/people", asked);
  if (!done) return;
  tell(t("password", {u: done.username}), done.password);
  event.target.reset();
  loadPeople();
};
document.getElementById("token-form").onsubmit = async event => {
  event.preventDefault();
  const done = await call("POST", "/api/tokens", values(event.target));
  if (!done) return;
  tell(t("token"), done.token);
  event.target.reset();
  loadPeople();
};
document.getElementById("show").onchange = event => {
  document.querySelector("#resident-form [name=building]").value = event.target.value;
  loadRoster();
};
document.getElementById("lang").onclick = () => {
  lang = lang === "en" ? "zh" : "en"; localStorage.setItem("lang", lang); translate(); loadRoster(); loadPeople();
};
translate(); loadRoster(); loadPeople();
