// MathJax 3 configuration for the site (loaded before MathJax itself).
// pymdownx.arithmatex (generic mode) wraps every equation of the Markdown pages and
// of the API docstrings in an element of class "arithmatex" using \( \) and \[ \].
// Notebook pages come from nbconvert, which keeps the notebook's own $ and $$:
// MathJax typesets those inside rendered notebook markdown and LaTeX outputs only.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown|jp-RenderedLatex",
  },
};

// Typeset again whenever Material swaps the page content in place.
document$.subscribe(() => {
  if (window.MathJax && MathJax.typesetPromise) {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    MathJax.typesetPromise();
  }
});
