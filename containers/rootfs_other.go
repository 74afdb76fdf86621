//go:build !linux

package containers

import (
	"context"
	"errors"
	"io"
)

var errNotLinux = errors.New("building the base image needs Linux (debootstrap)")

func lockFile(context.Context, string, io.Writer) (func(), error) { return nil, errNotLinux }

func runDebootstrap(context.Context, string, []string, io.Writer) error { return errNotLinux }

func removeRootfs(string) {}

func writeRootfsTar(context.Context, io.Writer, string) error { return errNotLinux }

func planHostBase(context.Context, string, []string, string) (*hostBase, error) {
	return nil, errNotLinux
}

func (*hostBase) writeTar(context.Context, io.Writer, io.Writer) error { return errNotLinux }
