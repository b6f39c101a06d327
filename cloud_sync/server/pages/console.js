// What the console's pages share: their words in Chinese and English. Each page sets
// TEXT (its words by language) and lang ("zh" or "en") before calling these.
function t(key, values) {
  let text = TEXT[lang][key] || key;
  for (const [k, v] of Object.entries(values || {})) text = text.replace("{" + k + "}", v);
  return text;
}
function translate() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  document.querySelectorAll("[data-t]").forEach(el => { el.textContent = t(el.dataset.t); });
  document.getElementById("lang").textContent = t("lang");
}
