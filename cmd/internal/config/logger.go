package config

import (
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// NewLogger builds the logger p asks for, writing to standard error: JSON
// unless LogFormat is "text", at LogLevel (info when unset or unknown).
func NewLogger(p Process) *logrus.Logger {
	return newLogger(p, os.Stderr)
}

func newLogger(p Process, w io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(w)
	if strings.EqualFold(p.LogFormat, "text") {
		log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	} else {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	lvl, err := logrus.ParseLevel(p.LogLevel)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	log.SetLevel(lvl)
	return log
}
