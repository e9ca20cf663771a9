"""Small leaves every layer may use: content hashes, importing a user's ``module:function``, lazy
package faces, YAML with line numbers, git facts, run ids and progress events. Standard library
only (plus goldband's errors and clock)."""
