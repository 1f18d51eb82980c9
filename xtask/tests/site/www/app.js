// Writes a line into the page once it has loaded, so a browser's DOM differs
// from the HTML when the script ran.
document.addEventListener("DOMContentLoaded", function () {
  var out = document.getElementById("out");
  if (out) {
    out.textContent = "JavaScript ran: " + document.title + ", " + document.links.length + " links.";
  }
});
