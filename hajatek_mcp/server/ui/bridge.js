// The view side of MCP Apps (io.modelcontextprotocol/ui, protocol 2026-01-26): JSON-RPC 2.0 over postMessage with
// the host's frame. Hand-written rather than the official App class, whose bundle (with zod and the client) is about
// 665 KB minified: each view must stay within 150 KB. tests/e2e/test_apps_browser.py proves it against the official
// AppBridge host. Messages come only from the parent frame; nothing here ever builds HTML from data.
const hajatekBridge = (() => {
  const pending = new Map();
  const handlers = {};
  let nextId = 1;
  const post = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
  const request = (method, params) => {
    const id = nextId++;
    post({ id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  };
  const notify = (method, params) => post({ method, params });
  const applyContext = (context) => {
    const root = document.documentElement;
    if (context.theme === "light" || context.theme === "dark") root.dataset.theme = context.theme;
    if (typeof context.locale === "string") {
      root.lang = context.locale;
      root.dir = /^(ar|fa|he|ur)\b/i.test(context.locale) ? "rtl" : "ltr";
    }
    const listener = handlers.context;
    if (listener) listener(context);
  };
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      if (message.error) waiting.reject(new Error(message.error.message));
      else waiting.resolve(message.result);
      return;
    }
    if (message.method === "ui/resource-teardown") {
      post({ id: message.id, result: {} });
      return;
    }
    if (message.method === "ui/notifications/host-context-changed") applyContext(message.params || {});
    else if (message.method === "ui/notifications/tool-result") handlers.result?.(message.params || {});
    else if (message.method === "ui/notifications/tool-input") handlers.input?.(message.params || {});
    else if (message.id !== undefined) post({ id: message.id, error: { code: -32601, message: "Method not found" } });
  });
  const sendSize = () => {
    const root = document.documentElement;
    notify("ui/notifications/size-changed", { width: Math.ceil(root.scrollWidth), height: Math.ceil(root.scrollHeight) });
  };
  return {
    /** Handlers: result(CallToolResult), input({arguments}), context(hostContext). */
    on(name, handler) {
      handlers[name] = handler;
    },
    async connect(name) {
      const answer = await request("ui/initialize", {
        protocolVersion: "2026-01-26",
        appInfo: { name, version: "1" },
        appCapabilities: {},
      });
      applyContext((answer && answer.hostContext) || {});
      notify("ui/notifications/initialized", {});
      new ResizeObserver(sendSize).observe(document.body);
      sendSize();
    },
    callTool(name, args) {
      return request("tools/call", { name, arguments: args });
    },
  };
})();
