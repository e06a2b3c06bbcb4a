package idp

import "fmt"

// Solar Hijri (Jalaali) to Gregorian conversion: the arithmetic of
// Borkowski's method as used by jalaali-js, exact for years -61..3177.

var jalaaliBreaks = []int{-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178}

func idiv(a, b int) int { return a / b } // truncates, as the algorithm expects
func imod(a, b int) int { return a - a/b*b }

// jalCal returns the Gregorian year starting in jy, the March day of
// Nowruz (1 Farvardin), and whether jy is a leap year.
func jalCal(jy int) (gy, march int, leap bool, err error) {
	gy, march, l, err := jalCalN(jy)
	return gy, march, l == 0, err
}

// jalCalN is jalCal with the raw leap index (0 means a leap year).
func jalCalN(jy int) (gy, march, leapN int, err error) {
	bl := len(jalaaliBreaks)
	if jy < jalaaliBreaks[0] || jy >= jalaaliBreaks[bl-1] {
		return 0, 0, 0, fmt.Errorf("year %d out of range", jy)
	}
	gy = jy + 621
	leapJ, jp, jump := -14, jalaaliBreaks[0], 0
	for i := 1; i < bl; i++ {
		jm := jalaaliBreaks[i]
		jump = jm - jp
		if jy < jm {
			break
		}
		leapJ += idiv(jump, 33)*8 + idiv(imod(jump, 33), 4)
		jp = jm
	}
	n := jy - jp
	leapJ += idiv(n, 33)*8 + idiv(imod(n, 33)+3, 4)
	if imod(jump, 33) == 4 && jump-n == 4 {
		leapJ++
	}
	leapG := idiv(gy, 4) - idiv((idiv(gy, 100)+1)*3, 4) - 150
	march = 20 + leapJ - leapG
	if jump-n < 6 {
		n = n - jump + idiv(jump+4, 33)*33
	}
	l := imod(imod(n+1, 33)-1, 4)
	if l == -1 {
		l = 4
	}
	return gy, march, l, nil
}

func g2d(gy, gm, gd int) int {
	d := idiv((gy+idiv(gm-8, 6)+100100)*1461, 4) + idiv(153*imod(gm+9, 12)+2, 5) + gd - 34840408
	return d - idiv(idiv(gy+100100+idiv(gm-8, 6), 100)*3, 4) + 752
}

func d2g(jdn int) (gy, gm, gd int) {
	j := 4*jdn + 139361631
	j += idiv(idiv(4*jdn+183187720, 146097)*3, 4)*4 - 3908
	i := idiv(imod(j, 1461), 4)*5 + 308
	gd = idiv(imod(i, 153), 5) + 1
	gm = imod(idiv(i, 153), 12) + 1
	gy = idiv(j, 1461) - 100100 + idiv(8-gm, 6)
	return
}

// JalaaliToGregorian converts a Solar Hijri date, checking it exists.
func JalaaliToGregorian(jy, jm, jd int) (gy, gm, gd int, err error) {
	g, march, leap, err := jalCal(jy)
	if err != nil {
		return 0, 0, 0, err
	}
	days := 31
	switch {
	case jm < 1 || jm > 12:
		return 0, 0, 0, fmt.Errorf("month %d does not exist", jm)
	case jm > 11 && !leap:
		days = 29
	case jm > 6:
		days = 30
	}
	if jd < 1 || jd > days {
		return 0, 0, 0, fmt.Errorf("day %d does not exist in month %d of %d", jd, jm, jy)
	}
	jdn := g2d(g, 3, march) + (jm-1)*31 - idiv(jm, 7)*(jm-7) + jd - 1
	gy, gm, gd = d2g(jdn)
	return gy, gm, gd, nil
}

// GregorianToJalaali converts a Gregorian date to Solar Hijri.
func GregorianToJalaali(gy, gm, gd int) (jy, jm, jd int, err error) {
	jdn := g2d(gy, gm, gd)
	gy2, _, _ := d2g(jdn)
	jy = gy2 - 621
	_, march, leapN, err := jalCalN(jy)
	if err != nil {
		return 0, 0, 0, err
	}
	k := jdn - g2d(gy2, 3, march)
	if k >= 0 {
		if k <= 185 {
			return jy, 1 + idiv(k, 31), imod(k, 31) + 1, nil
		}
		k -= 186
	} else {
		jy--
		k += 179
		if leapN == 1 {
			k++
		}
	}
	return jy, 7 + idiv(k, 30), imod(k, 30) + 1, nil
}
