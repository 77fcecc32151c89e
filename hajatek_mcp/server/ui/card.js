// The confirmation card, shared by the card view and the orders view's next-status buttons: a guarded change's
// facts (the server's preview) with Approve and Decline. The token arrives only in the result's _meta (never shown to
// the model); a click sends it back through approve_change, a tool only a view may call.
const hajatekCard = (() => {
  const APPROVAL = "hajatek/approval";
  const said = (result) =>
    ((result && result.content) || []).filter((block) => block.type === "text").map((block) => block.text).join(" ");
  const part = (root, name) => root.querySelector(`.card-${name}`);
  const set = (root, name, value) => {
    part(root, name).textContent = value;
  };
  /** Whether ``result`` is a change waiting for the merchant's click. */
  const pending = (result) =>
    Boolean(result && result.structuredContent && result.structuredContent.outcome === "awaiting_approval" &&
      result._meta && result._meta[APPROVAL]);
  /** Show ``result`` in ``root`` (which holds the card's parts); ``after(state)`` runs once the merchant decided. */
  function show(root, result, after) {
    const data = result.structuredContent || {};
    const approval = result._meta && result._meta[APPROVAL];
    part(root, "actions").hidden = true;
    set(root, "outcome", "");
    if (result.isError) {
      set(root, "title", "The change could not be made");
      set(root, "facts", said(result));
      root.dataset.state = "failed";
    } else if (pending(result)) {
      set(root, "title", "Confirm this change");
      const lines = [data.preview || "", ...(Array.isArray(data.warnings) ? data.warnings : [])];
      if (Array.isArray(data.changes)) lines.push(`${data.changes.length} items change, as listed in the preview.`);
      set(root, "facts", lines.filter(Boolean).join("\n"));
      set(root, "expiry", data.expires_in ? `This question stays open for ${Math.round(data.expires_in / 60)} minutes.` : "");
      const approve = part(root, "approve");
      const decline = part(root, "decline");
      approve.disabled = decline.disabled = false;
      let asked = approval;
      const decide = async (decision) => {
        if (!asked) return;
        const change = asked;
        asked = null;
        approve.disabled = decline.disabled = true;
        try {
          const answer = await hajatekBridge.callTool("approve_change", { ...change, decision });
          const outcome = (answer && answer.structuredContent && answer.structuredContent.outcome) || "";
          if (answer.isError) {
            set(root, "outcome", said(answer) || "The change could not be made.");
            root.dataset.state = "failed";
          } else if (decision === "approve" && outcome === "done") {
            set(root, "outcome", "Approved: the change was made.");
            root.dataset.state = "approved";
          } else {
            set(root, "outcome", "Declined: nothing was changed.");
            root.dataset.state = "declined";
          }
        } catch (error) {
          set(root, "outcome", `The host did not pass the answer on (${error.message}): nothing was changed.`);
          root.dataset.state = "failed";
        }
        if (after) after(root.dataset.state);
      };
      approve.onclick = () => decide("approve");
      decline.onclick = () => decide("decline");
      part(root, "actions").hidden = false;
      root.dataset.state = "awaiting";
    } else if (data.outcome === "done") {
      set(root, "title", "Done");
      set(root, "facts", "The change was made.");
      root.dataset.state = "done";
    } else {
      set(root, "title", data.outcome === "declined" ? "Declined" : "Not changed");
      set(root, "facts", data.next_step || data.preview || "Nothing was changed.");
      root.dataset.state = data.outcome || "unchanged";
    }
  }
  return { show, pending };
})();
