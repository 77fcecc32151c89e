// The test host of tests/e2e/test_apps_browser.py: what Claude or ChatGPT does with a tool that has a view, built on
// the official MCP Apps host bridge (AppBridge) and the TypeScript MCP client. It connects to the server, calls the
// tool named in the page's query, reads the tool's ui:// view, loads it through the sandbox proxy (another origin),
// and feeds it the tool's input and result. window.hostState tells the test what happened.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { AppBridge, PostMessageTransport, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";

const query = new URLSearchParams(location.search);
const state = (window.hostState = { step: "starting", sizes: [], viewCalls: [], error: null });
const hostInfo = { name: "hajatek-test-host", version: "1" };

async function main() {
  const client = new Client(hostInfo, {
    capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } } },
    versionNegotiation: { mode: query.get("mode") || "legacy" },
  });
  const transport = new StreamableHTTPClientTransport(new URL(query.get("mcp")), {
    requestInit: { headers: query.get("token") ? { Authorization: `Bearer ${query.get("token")}` } : {} },
  });
  await client.connect(transport);
  const { tools } = await client.listTools();
  // What a host puts in the model's tool list: the tools whose visibility includes "model" (the default).
  state.modelTools = tools.filter((t) => (t._meta?.ui?.visibility ?? ["model", "app"]).includes("model")).map((t) => t.name);
  state.allTools = tools.map((t) => t.name);
  window.callTool = (name, args) => client.callTool({ name, arguments: args });
  window.readResource = async (uri) => (await client.readResource({ uri })).contents[0].text;
  const tool = tools.find((t) => t.name === query.get("tool"));
  if (!tool) throw new Error(`no tool ${query.get("tool")}`);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${tool.name} has no view`);
  const args = JSON.parse(query.get("args") || "{}");
  state.step = "calling";
  const result = await client.callTool({ name: tool.name, arguments: args });
  state.result = result;
  const view = (await client.readResource({ uri })).contents[0];
  state.view = { uri, mimeType: view.mimeType, bytes: new TextEncoder().encode(view.text).length };

  const frame = document.createElement("iframe");
  frame.id = "view";
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
  frame.style = "width:100%;height:640px;border:0";
  const proxyReady = new Promise((resolve) =>
    window.addEventListener("message", function ready(event) {
      if (event.source === frame.contentWindow && event.data?.method === "ui/notifications/sandbox-proxy-ready") {
        window.removeEventListener("message", ready);
        resolve();
      }
    }),
  );
  frame.src = query.get("sandbox");
  document.body.append(frame);
  await proxyReady;

  const context = { theme: query.get("theme") || "light", displayMode: "inline", locale: query.get("locale") || "en-US" };
  const bridge = new AppBridge(client, hostInfo, { serverTools: {}, serverResources: {}, logging: {} }, { hostContext: context });
  const initialized = new Promise((resolve) => (bridge.oninitialized = resolve));
  bridge.onsizechange = (size) => {
    state.sizes.push({ ...size, at: performance.now() });
    const height = Math.max(200, Math.ceil(size.height || 0) + 8);
    frame.style.height = `${height}px`;
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  // A host lets a view call only the tools whose visibility includes "app" (the spec's MUST; AppBridge does not check).
  bridge.oncalltool = async (params) => {
    const target = tools.find((t) => t.name === params.name);
    const visibility = target?._meta?.ui?.visibility ?? ["model", "app"];
    if (!target || !visibility.includes("app")) throw new Error(`the view may not call ${params.name}`);
    const result = await client.callTool(params);
    state.viewCalls.push({ name: params.name, arguments: params.arguments, result });
    return result;
  };
  await bridge.sendSandboxResourceReady({ html: view.text, csp: view._meta?.ui?.csp });
  await initialized;
  state.step = "initialized";
  await bridge.sendToolInput({ arguments: args });
  state.resultSentAt = performance.now();
  await bridge.sendToolResult(result);
  state.step = "shown";
  window.setTheme = (theme) => bridge.setHostContext({ ...context, theme });
  window.tearDown = async () => {
    state.teardown = await bridge.teardownResource({});
  };
}

main().catch((error) => {
  state.error = String((error && error.stack) || error);
  state.step = "failed";
});
