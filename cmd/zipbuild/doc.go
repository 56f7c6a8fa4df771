// Command zipbuild writes a folder into a zip archive reproducibly: the
// same files give the same bytes, whatever their timestamps, owners or the
// order the file system lists them in. function.zip.mk uses it to package
// the function.
//
//	zipbuild -o dist/function.zip FOLDER
//
// Entries are sorted by path, folders have their own entries, every entry
// has the same time (SOURCE_DATE_EPOCH when set, else 1980-01-01 00:00:00
// UTC, the earliest a zip can hold), and modes are normalised: 0755 for
// folders and for files with any execute bit (the function's bootstrap),
// 0644 for other files. Symbolic links and other special files are refused.
// The archive is written to a temporary file and renamed into place.
package main
