// The chat page's script: one WebSocket to /ws/<room>. Everything shown comes back from the
// server (a sender sees its own message once the room has it), and is set as text, never HTML.
const main = document.querySelector("main");
const { room, name } = main.dataset;
const status = document.getElementById("status");
const messages = document.getElementById("messages");
const form = document.getElementById("send");
const fieldset = form.querySelector("fieldset");
const input = form.elements.namedItem("text");

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(`${scheme}//${location.host}/ws/${encodeURIComponent(room)}`);

function show(author, text) {
  const item = document.createElement("li");
  const who = document.createElement("b");
  who.className = "name";
  who.textContent = author;
  const what = document.createElement("span");
  what.className = "text";
  what.textContent = text;
  item.append(who, ": ", what);
  messages.append(item);
  item.scrollIntoView({ block: "end" });
}

socket.addEventListener("message", (event) => {
  const message = JSON.parse(event.data);
  if (message.type === "hello") {
    status.textContent = `In #${room} as ${name}, through worker process ${message.worker}.`;
    status.dataset.worker = message.worker;
    fieldset.disabled = false;
    input.focus();
  } else if (message.type === "message") {
    show(message.name, message.text);
  }
});

socket.addEventListener("close", () => {
  status.textContent = "Disconnected: reload the page to join again.";
  delete status.dataset.worker;
  fieldset.disabled = true;
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text === "") return;
  socket.send(JSON.stringify({ name, text }));
  input.value = "";
});
